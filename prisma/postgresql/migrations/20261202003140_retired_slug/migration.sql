-- CreateTable
CREATE TABLE "RetiredSlug" (
    "slug" TEXT NOT NULL,
    "namespaceId" TEXT NOT NULL,
    "retiredUntil" TIMESTAMP(3),
    "retiredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RetiredSlug_pkey" PRIMARY KEY ("slug")
);
