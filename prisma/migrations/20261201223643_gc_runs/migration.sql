/*
  Warnings:

  - You are about to drop the column `cancelRequested` on the `GcJob` table. All the data in the column will be lost.
  - You are about to drop the column `leaseExpiresAt` on the `GcJob` table. All the data in the column will be lost.
  - You are about to drop the column `leaseOwner` on the `GcJob` table. All the data in the column will be lost.

*/
-- CreateTable
CREATE TABLE "GcRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "waiting" TEXT,
    "notBefore" DATETIME,
    "bypassInterval" BOOLEAN NOT NULL DEFAULT false,
    "windowOpenedAt" DATETIME,
    "windowClosedAt" DATETIME,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" DATETIME,
    "error" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_GcJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "runId" TEXT,
    "activeFor" TEXT,
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
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "GcJob_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "GcJob_runId_fkey" FOREIGN KEY ("runId") REFERENCES "GcRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_GcJob" ("blobsDeleted", "blobsMarked", "blobsTotal", "bytesFreed", "createdAt", "deleteUntagged", "dryRun", "error", "finishedAt", "id", "manifestsDeleted", "percent", "phase", "registryId", "requestedById", "startedAt", "status") SELECT "blobsDeleted", "blobsMarked", "blobsTotal", "bytesFreed", "createdAt", "deleteUntagged", "dryRun", "error", "finishedAt", "id", "manifestsDeleted", "percent", "phase", "registryId", "requestedById", "startedAt", "status" FROM "GcJob";
DROP TABLE "GcJob";
ALTER TABLE "new_GcJob" RENAME TO "GcJob";
CREATE UNIQUE INDEX "GcJob_activeFor_key" ON "GcJob"("activeFor");
CREATE INDEX "GcJob_registryId_createdAt_idx" ON "GcJob"("registryId", "createdAt");
CREATE INDEX "GcJob_runId_idx" ON "GcJob"("runId");
CREATE INDEX "GcJob_status_idx" ON "GcJob"("status");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "GcRun_waiting_key" ON "GcRun"("waiting");

-- CreateIndex
CREATE INDEX "GcRun_status_idx" ON "GcRun"("status");

-- CreateIndex
CREATE INDEX "GcRun_windowClosedAt_idx" ON "GcRun"("windowClosedAt");
