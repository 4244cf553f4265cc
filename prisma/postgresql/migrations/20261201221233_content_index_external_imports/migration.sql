-- The activity index (TagActivity, ImageActivity, RepositoryActivity) becomes the content index. Its
-- history moves over: repositories, tags with their push and pull times, and images (as revisions).
-- Their manifests are not known yet: the first reconcile reads them from the backend and drops
-- whatever the backend no longer holds.
-- CreateEnum
CREATE TYPE "ImportStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED');

-- AlterTable
ALTER TABLE "Registry" ADD COLUMN     "insecure" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "passwordCiphertext" TEXT,
ADD COLUMN     "url" TEXT,
ADD COLUMN     "username" TEXT;

-- CreateTable
CREATE TABLE "ContentRepository" (
    "id" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "lastPushedAt" TIMESTAMP(3) NOT NULL,
    "seenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ContentRepository_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ContentTag" (
    "id" TEXT NOT NULL,
    "repositoryId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "pushedAt" TIMESTAMP(3) NOT NULL,
    "pulledAt" TIMESTAMP(3),

    CONSTRAINT "ContentTag_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ContentRevision" (
    "id" TEXT NOT NULL,
    "repositoryId" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "pushedAt" TIMESTAMP(3) NOT NULL,
    "pulledAt" TIMESTAMP(3),

    CONSTRAINT "ContentRevision_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ContentManifest" (
    "digest" TEXT NOT NULL,
    "mediaType" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "isIndex" BOOLEAN NOT NULL,
    "configDigest" TEXT,
    "created" TIMESTAMP(3),
    "os" TEXT,
    "architecture" TEXT,
    "variant" TEXT,
    "imageBytes" BIGINT,
    "subject" TEXT,

    CONSTRAINT "ContentManifest_pkey" PRIMARY KEY ("digest")
);

-- CreateTable
CREATE TABLE "ContentReference" (
    "manifestDigest" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "digest" TEXT NOT NULL,
    "mediaType" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "os" TEXT,
    "architecture" TEXT,
    "variant" TEXT,

    CONSTRAINT "ContentReference_pkey" PRIMARY KEY ("manifestDigest","position")
);

-- CreateTable
CREATE TABLE "ContentBlob" (
    "digest" TEXT NOT NULL,
    "size" BIGINT NOT NULL,

    CONSTRAINT "ContentBlob_pkey" PRIMARY KEY ("digest")
);

-- CreateTable
CREATE TABLE "ContentBlobLink" (
    "repositoryPath" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "digest" TEXT NOT NULL,

    CONSTRAINT "ContentBlobLink_pkey" PRIMARY KEY ("repositoryPath","digest")
);

-- CreateTable
CREATE TABLE "ImportJob" (
    "id" TEXT NOT NULL,
    "registryId" TEXT NOT NULL,
    "sourceRegistryId" TEXT,
    "sourceUrl" TEXT NOT NULL,
    "sourceRepository" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "targetRepository" TEXT NOT NULL,
    "targetTag" TEXT,
    "requestedById" TEXT,
    "status" "ImportStatus" NOT NULL DEFAULT 'QUEUED',
    "phase" TEXT NOT NULL DEFAULT 'QUEUED',
    "bytesTotal" BIGINT NOT NULL DEFAULT 0,
    "bytesCopied" BIGINT NOT NULL DEFAULT 0,
    "blobsTotal" INTEGER NOT NULL DEFAULT 0,
    "blobsCopied" INTEGER NOT NULL DEFAULT 0,
    "blobsSkipped" INTEGER NOT NULL DEFAULT 0,
    "percent" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "digest" TEXT,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "ImportJob_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ContentRepository_path_key" ON "ContentRepository"("path");

-- CreateIndex
CREATE INDEX "ContentRepository_slug_name_idx" ON "ContentRepository"("slug", "name");

-- CreateIndex
CREATE INDEX "ContentRepository_slug_lastPushedAt_idx" ON "ContentRepository"("slug", "lastPushedAt");

-- CreateIndex
CREATE INDEX "ContentTag_repositoryId_pushedAt_idx" ON "ContentTag"("repositoryId", "pushedAt");

-- CreateIndex
CREATE INDEX "ContentTag_repositoryId_digest_idx" ON "ContentTag"("repositoryId", "digest");

-- CreateIndex
CREATE UNIQUE INDEX "ContentTag_repositoryId_name_key" ON "ContentTag"("repositoryId", "name");

-- CreateIndex
CREATE INDEX "ContentRevision_digest_idx" ON "ContentRevision"("digest");

-- CreateIndex
CREATE UNIQUE INDEX "ContentRevision_repositoryId_digest_key" ON "ContentRevision"("repositoryId", "digest");

-- CreateIndex
CREATE INDEX "ContentReference_digest_idx" ON "ContentReference"("digest");

-- CreateIndex
CREATE INDEX "ContentBlobLink_digest_idx" ON "ContentBlobLink"("digest");

-- CreateIndex
CREATE INDEX "ContentBlobLink_slug_idx" ON "ContentBlobLink"("slug");

-- CreateIndex
CREATE INDEX "ImportJob_registryId_createdAt_idx" ON "ImportJob"("registryId", "createdAt");

-- CreateIndex
CREATE INDEX "ImportJob_status_idx" ON "ImportJob"("status");

-- CreateIndex
CREATE UNIQUE INDEX "Registry_namespaceId_url_key" ON "Registry"("namespaceId", "url");

-- AddForeignKey
ALTER TABLE "ContentTag" ADD CONSTRAINT "ContentTag_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "ContentRepository"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ContentRevision" ADD CONSTRAINT "ContentRevision_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "ContentRepository"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImportJob" ADD CONSTRAINT "ImportJob_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImportJob" ADD CONSTRAINT "ImportJob_sourceRegistryId_fkey" FOREIGN KEY ("sourceRegistryId") REFERENCES "Registry"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Carry the activity history into the content index.
INSERT INTO "ContentRepository" ("id", "path", "slug", "name", "lastPushedAt", "seenAt")
SELECT 'a' || replace(gen_random_uuid()::text, '-', ''), "path", split_part("path", '/', 1), substring("path" from position('/' in "path") + 1),
       COALESCE(MAX("pushed"), CURRENT_TIMESTAMP), CURRENT_TIMESTAMP
FROM (
  SELECT "repository" AS "path", "lastPushedAt" AS "pushed" FROM "RepositoryActivity"
  UNION ALL SELECT "repository", "pushedAt" FROM "TagActivity"
  UNION ALL SELECT "repository", "pushedAt" FROM "ImageActivity"
) AS "activity"
WHERE position('/' in "path") > 0
GROUP BY "path";

INSERT INTO "ContentTag" ("id", "repositoryId", "name", "digest", "pushedAt", "pulledAt")
SELECT 'a' || replace(gen_random_uuid()::text, '-', ''), r."id", t."tag", t."digest", COALESCE(t."pushedAt", r."lastPushedAt"), t."pulledAt"
FROM "TagActivity" t JOIN "ContentRepository" r ON r."path" = t."repository";

INSERT INTO "ContentRevision" ("id", "repositoryId", "digest", "pushedAt", "pulledAt")
SELECT 'a' || replace(gen_random_uuid()::text, '-', ''), r."id", i."digest", COALESCE(i."pushedAt", r."lastPushedAt"), i."pulledAt"
FROM "ImageActivity" i JOIN "ContentRepository" r ON r."path" = i."repository";

-- DropForeignKey
ALTER TABLE "ImageActivity" DROP CONSTRAINT "ImageActivity_registryId_fkey";

-- DropForeignKey
ALTER TABLE "RepositoryActivity" DROP CONSTRAINT "RepositoryActivity_registryId_fkey";

-- DropForeignKey
ALTER TABLE "TagActivity" DROP CONSTRAINT "TagActivity_registryId_fkey";

-- DropTable
DROP TABLE "ImageActivity";

-- DropTable
DROP TABLE "RepositoryActivity";

-- DropTable
DROP TABLE "TagActivity";
