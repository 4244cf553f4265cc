-- CreateTable
CREATE TABLE "CleanupPolicy" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "rules" TEXT NOT NULL,
    "schedule" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "nextRunAt" DATETIME,
    "updatedById" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "CleanupPolicy_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "CleanupJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "activeFor" TEXT,
    "trigger" TEXT NOT NULL,
    "requestedById" TEXT,
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "rules" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "phase" TEXT NOT NULL DEFAULT 'QUEUED',
    "tagsTotal" INTEGER NOT NULL DEFAULT 0,
    "tagsDeleted" INTEGER NOT NULL DEFAULT 0,
    "expectedBytesFreed" BIGINT NOT NULL DEFAULT 0,
    "bytesFreed" BIGINT NOT NULL DEFAULT 0,
    "percent" REAL NOT NULL DEFAULT 0,
    "gcJobId" TEXT,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "CleanupJob_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "CleanupJob_gcJobId_fkey" FOREIGN KEY ("gcJobId") REFERENCES "GcJob" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "CleanupDeletion" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "jobId" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "rule" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "deletedAt" DATETIME,
    "error" TEXT,
    CONSTRAINT "CleanupDeletion_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "CleanupJob" ("id") ON DELETE CASCADE ON UPDATE CASCADE
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
