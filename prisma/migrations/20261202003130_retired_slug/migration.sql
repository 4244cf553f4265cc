-- CreateTable
CREATE TABLE "RetiredSlug" (
    "slug" TEXT NOT NULL PRIMARY KEY,
    "namespaceId" TEXT NOT NULL,
    "retiredUntil" DATETIME,
    "retiredAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
