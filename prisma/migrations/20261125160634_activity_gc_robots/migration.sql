-- AlterTable
ALTER TABLE "Registry" ADD COLUMN "lastPushedAt" DATETIME;

-- CreateTable
CREATE TABLE "RobotAccount" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "rotatedAt" DATETIME,
    "lastUsedAt" DATETIME,
    CONSTRAINT "RobotAccount_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "TagActivity" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "pushedAt" DATETIME,
    "pulledAt" DATETIME,
    CONSTRAINT "TagActivity_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ImageActivity" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "pushedAt" DATETIME,
    "pulledAt" DATETIME,
    CONSTRAINT "ImageActivity_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RepositoryActivity" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "repository" TEXT NOT NULL,
    "lastPushedAt" DATETIME,
    CONSTRAINT "RepositoryActivity_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "GcJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "requestedById" TEXT,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "phase" TEXT NOT NULL DEFAULT 'QUEUED',
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "deleteUntagged" BOOLEAN NOT NULL DEFAULT false,
    "blobsTotal" INTEGER NOT NULL DEFAULT 0,
    "blobsMarked" INTEGER NOT NULL DEFAULT 0,
    "blobsDeleted" INTEGER NOT NULL DEFAULT 0,
    "manifestsDeleted" INTEGER NOT NULL DEFAULT 0,
    "bytesFreed" BIGINT NOT NULL DEFAULT 0,
    "percent" REAL NOT NULL DEFAULT 0,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "GcJob_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "RobotAccount_registryId_key" ON "RobotAccount"("registryId");

-- CreateIndex
CREATE UNIQUE INDEX "RobotAccount_username_key" ON "RobotAccount"("username");

-- CreateIndex
CREATE INDEX "TagActivity_registryId_idx" ON "TagActivity"("registryId");

-- CreateIndex
CREATE UNIQUE INDEX "TagActivity_repository_tag_key" ON "TagActivity"("repository", "tag");

-- CreateIndex
CREATE INDEX "ImageActivity_registryId_idx" ON "ImageActivity"("registryId");

-- CreateIndex
CREATE UNIQUE INDEX "ImageActivity_repository_digest_key" ON "ImageActivity"("repository", "digest");

-- CreateIndex
CREATE UNIQUE INDEX "RepositoryActivity_repository_key" ON "RepositoryActivity"("repository");

-- CreateIndex
CREATE INDEX "RepositoryActivity_registryId_idx" ON "RepositoryActivity"("registryId");

-- CreateIndex
CREATE INDEX "GcJob_registryId_createdAt_idx" ON "GcJob"("registryId", "createdAt");

-- CreateIndex
CREATE INDEX "GcJob_status_idx" ON "GcJob"("status");
