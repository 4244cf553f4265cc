-- The activity index (TagActivity, ImageActivity, RepositoryActivity) becomes the content index. Its
-- history moves over: repositories, tags with their push and pull times, and images (as revisions).
-- Their manifests are not known yet: the first reconcile reads them from the backend and drops
-- whatever the backend no longer holds.
-- CreateTable
CREATE TABLE "ContentRepository" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "path" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "lastPushedAt" DATETIME NOT NULL,
    "seenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "ContentTag" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "repositoryId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "pushedAt" DATETIME NOT NULL,
    "pulledAt" DATETIME,
    CONSTRAINT "ContentTag_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "ContentRepository" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ContentRevision" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "repositoryId" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "pushedAt" DATETIME NOT NULL,
    "pulledAt" DATETIME,
    CONSTRAINT "ContentRevision_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "ContentRepository" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ContentManifest" (
    "digest" TEXT NOT NULL PRIMARY KEY,
    "mediaType" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "isIndex" BOOLEAN NOT NULL,
    "configDigest" TEXT,
    "created" DATETIME,
    "os" TEXT,
    "architecture" TEXT,
    "variant" TEXT,
    "imageBytes" BIGINT,
    "subject" TEXT
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

    PRIMARY KEY ("manifestDigest", "position")
);

-- CreateTable
CREATE TABLE "ContentBlob" (
    "digest" TEXT NOT NULL PRIMARY KEY,
    "size" BIGINT NOT NULL
);

-- CreateTable
CREATE TABLE "ContentBlobLink" (
    "repositoryPath" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "digest" TEXT NOT NULL,

    PRIMARY KEY ("repositoryPath", "digest")
);

-- CreateTable
CREATE TABLE "ImportJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "registryId" TEXT NOT NULL,
    "sourceRegistryId" TEXT,
    "sourceUrl" TEXT NOT NULL,
    "sourceRepository" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "targetRepository" TEXT NOT NULL,
    "targetTag" TEXT,
    "requestedById" TEXT,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "phase" TEXT NOT NULL DEFAULT 'QUEUED',
    "bytesTotal" BIGINT NOT NULL DEFAULT 0,
    "bytesCopied" BIGINT NOT NULL DEFAULT 0,
    "blobsTotal" INTEGER NOT NULL DEFAULT 0,
    "blobsCopied" INTEGER NOT NULL DEFAULT 0,
    "blobsSkipped" INTEGER NOT NULL DEFAULT 0,
    "percent" REAL NOT NULL DEFAULT 0,
    "digest" TEXT,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "ImportJob_registryId_fkey" FOREIGN KEY ("registryId") REFERENCES "Registry" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "ImportJob_sourceRegistryId_fkey" FOREIGN KEY ("sourceRegistryId") REFERENCES "Registry" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Registry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "namespaceId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "slug" TEXT,
    "public" BOOLEAN NOT NULL DEFAULT false,
    "state" TEXT NOT NULL DEFAULT 'ACTIVE',
    "isDefault" BOOLEAN NOT NULL DEFAULT false,
    "quotaBytes" BIGINT,
    "lastPushedAt" DATETIME,
    "url" TEXT,
    "username" TEXT,
    "passwordCiphertext" TEXT,
    "insecure" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Registry_namespaceId_fkey" FOREIGN KEY ("namespaceId") REFERENCES "Namespace" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Registry" ("createdAt", "id", "isDefault", "kind", "lastPushedAt", "name", "namespaceId", "public", "quotaBytes", "slug", "state", "updatedAt") SELECT "createdAt", "id", "isDefault", "kind", "lastPushedAt", "name", "namespaceId", "public", "quotaBytes", "slug", "state", "updatedAt" FROM "Registry";
DROP TABLE "Registry";
ALTER TABLE "new_Registry" RENAME TO "Registry";
CREATE UNIQUE INDEX "Registry_slug_key" ON "Registry"("slug");
CREATE INDEX "Registry_namespaceId_createdAt_idx" ON "Registry"("namespaceId", "createdAt");
CREATE UNIQUE INDEX "Registry_namespaceId_name_key" ON "Registry"("namespaceId", "name");
CREATE UNIQUE INDEX "Registry_namespaceId_url_key" ON "Registry"("namespaceId", "url");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

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

-- Carry the activity history into the content index.
INSERT INTO "ContentRepository" ("id", "path", "slug", "name", "lastPushedAt", "seenAt")
SELECT 'a' || lower(hex(randomblob(12))), "path", substr("path", 1, instr("path", '/') - 1), substr("path", instr("path", '/') + 1),
       COALESCE(MAX("pushed"), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
FROM (
  SELECT "repository" AS "path", "lastPushedAt" AS "pushed" FROM "RepositoryActivity"
  UNION ALL SELECT "repository", "pushedAt" FROM "TagActivity"
  UNION ALL SELECT "repository", "pushedAt" FROM "ImageActivity"
)
WHERE instr("path", '/') > 0
GROUP BY "path";

INSERT INTO "ContentTag" ("id", "repositoryId", "name", "digest", "pushedAt", "pulledAt")
SELECT 'a' || lower(hex(randomblob(12))), r."id", t."tag", t."digest", COALESCE(t."pushedAt", r."lastPushedAt"), t."pulledAt"
FROM "TagActivity" t JOIN "ContentRepository" r ON r."path" = t."repository";

INSERT INTO "ContentRevision" ("id", "repositoryId", "digest", "pushedAt", "pulledAt")
SELECT 'a' || lower(hex(randomblob(12))), r."id", i."digest", COALESCE(i."pushedAt", r."lastPushedAt"), i."pulledAt"
FROM "ImageActivity" i JOIN "ContentRepository" r ON r."path" = i."repository";

-- DropIndex
DROP INDEX "ImageActivity_repository_digest_key";

-- DropIndex
DROP INDEX "ImageActivity_registryId_idx";

-- DropIndex
DROP INDEX "RepositoryActivity_registryId_idx";

-- DropIndex
DROP INDEX "RepositoryActivity_repository_key";

-- DropIndex
DROP INDEX "TagActivity_repository_tag_key";

-- DropIndex
DROP INDEX "TagActivity_registryId_idx";

-- DropTable
PRAGMA foreign_keys=off;
DROP TABLE "ImageActivity";
PRAGMA foreign_keys=on;

-- DropTable
PRAGMA foreign_keys=off;
DROP TABLE "RepositoryActivity";
PRAGMA foreign_keys=on;

-- DropTable
PRAGMA foreign_keys=off;
DROP TABLE "TagActivity";
PRAGMA foreign_keys=on;
