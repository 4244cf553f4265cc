-- CreateEnum
CREATE TYPE "CleanupStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED');

-- CreateEnum
CREATE TYPE "CleanupTrigger" AS ENUM ('MANUAL', 'SCHEDULE');

-- CreateTable
CREATE TABLE "CleanupPolicy" (
    "id" TEXT NOT NULL,
    "registryId" TEXT NOT NULL,
    "rules" TEXT NOT NULL,
    "schedule" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "nextRunAt" TIMESTAMP(3),
    "updatedById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CleanupPolicy_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CleanupJob" (
    "id" TEXT NOT NULL,
    "registryId" TEXT NOT NULL,
    "activeFor" TEXT,
    "trigger" "CleanupTrigger" NOT NULL,
    "requestedById" TEXT,
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "rules" TEXT NOT NULL,
    "status" "CleanupStatus" NOT NULL DEFAULT 'QUEUED',
    "phase" TEXT NOT NULL DEFAULT 'QUEUED',
    "tagsTotal" INTEGER NOT NULL DEFAULT 0,
    "tagsDeleted" INTEGER NOT NULL DEFAULT 0,
    "expectedBytesFreed" BIGINT NOT NULL DEFAULT 0,
    "bytesFreed" BIGINT NOT NULL DEFAULT 0,
    "percent" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "gcJobId" TEXT,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "CleanupJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CleanupDeletion" (
    "id" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "rule" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "deletedAt" TIMESTAMP(3),
    "error" TEXT,

    CONSTRAINT "CleanupDeletion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "CleanupPolicy_registryId_key" ON "CleanupPolicy"("registryId");

-- CreateIndex
CREATE INDEX "CleanupPolicy_nextRunAt_idx" ON "CleanupPolicy"("nextRunAt");

-- CreateIndex
CREATE UNIQUE INDEX "CleanupJob_activeFor_key" ON "CleanupJob"("activeFor");

-- CreateIndex
CREATE INDEX "CleanupJob_registryId_createdAt_idx" ON "CleanupJob"("registryId", "createdAt");

-- CreateIndex
CREATE INDEX "CleanupJob_status_idx" ON "CleanupJob"("status");

-- CreateIndex
CREATE INDEX "CleanupJob_gcJobId_idx" ON "CleanupJob"("gcJobId");

-- CreateIndex
CREATE INDEX "CleanupDeletion_jobId_repository_tag_idx" ON "CleanupDeletion"("jobId", "repository", "tag");

-- AddForeignKey
ALTER TABLE "CleanupPolicy" ADD CONSTRAINT "CleanupPolicy_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CleanupJob" ADD CONSTRAINT "CleanupJob_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CleanupJob" ADD CONSTRAINT "CleanupJob_gcJobId_fkey" FOREIGN KEY ("gcJobId") REFERENCES "GcJob"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CleanupDeletion" ADD CONSTRAINT "CleanupDeletion_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "CleanupJob"("id") ON DELETE CASCADE ON UPDATE CASCADE;
