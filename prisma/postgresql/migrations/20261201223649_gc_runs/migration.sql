/*
  Warnings:

  - You are about to drop the column `cancelRequested` on the `GcJob` table. All the data in the column will be lost.
  - You are about to drop the column `leaseExpiresAt` on the `GcJob` table. All the data in the column will be lost.
  - You are about to drop the column `leaseOwner` on the `GcJob` table. All the data in the column will be lost.
  - A unique constraint covering the columns `[activeFor]` on the table `GcJob` will be added. If there are existing duplicate values, this will fail.

*/
-- AlterTable
ALTER TABLE "GcJob" DROP COLUMN "cancelRequested",
DROP COLUMN "leaseExpiresAt",
DROP COLUMN "leaseOwner",
ADD COLUMN     "activeFor" TEXT,
ADD COLUMN     "runId" TEXT;

-- CreateTable
CREATE TABLE "GcRun" (
    "id" TEXT NOT NULL,
    "status" "GcStatus" NOT NULL DEFAULT 'QUEUED',
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "waiting" TEXT,
    "notBefore" TIMESTAMP(3),
    "bypassInterval" BOOLEAN NOT NULL DEFAULT false,
    "windowOpenedAt" TIMESTAMP(3),
    "windowClosedAt" TIMESTAMP(3),
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "GcRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "GcRun_waiting_key" ON "GcRun"("waiting");

-- CreateIndex
CREATE INDEX "GcRun_status_idx" ON "GcRun"("status");

-- CreateIndex
CREATE INDEX "GcRun_windowClosedAt_idx" ON "GcRun"("windowClosedAt");

-- CreateIndex
CREATE UNIQUE INDEX "GcJob_activeFor_key" ON "GcJob"("activeFor");

-- CreateIndex
CREATE INDEX "GcJob_runId_idx" ON "GcJob"("runId");

-- AddForeignKey
ALTER TABLE "GcJob" ADD CONSTRAINT "GcJob_runId_fkey" FOREIGN KEY ("runId") REFERENCES "GcRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;
