-- CreateIndex
CREATE INDEX "ContentManifest_subject_idx" ON "ContentManifest"("subject");
