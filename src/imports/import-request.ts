import type { Db } from '../db/client.js';
import { ValidationError } from '../errors.js';
import type { Registry } from '../generated/prisma/client.js';
import type { RegistryBackend } from '../registry/backend.js';
import { isDigest, isRepositoryName, isTag } from '../registry/v2/reference.js';
import type { ImportRequest } from './queue.js';

export interface ImportInput {
  sourceRepository: string;
  reference: string;
  targetRepository?: string | null;
  targetTag?: string | null;
}

/**
 * The connection imports come from when none is named: the namespace's default (seed 002). Null
 * when the namespace has none.
 */
export function defaultImportSource(db: Db, namespaceId: string): Promise<Registry | null> {
  return db.registry.findFirst({ where: { namespaceId, kind: 'EXTERNAL', isDefault: true } });
}

/**
 * What an import copies, checked before it is queued: into a hosted registry, from a repository
 * name and a tag or digest the source can hold. The target repository defaults to the last segment
 * of the source's (`library/alpine` → `alpine`), the target tag to the reference when it is a tag
 * (a digest imports untagged, reachable by digest).
 */
export function importRequest(
  target: { registry: Registry; backend: RegistryBackend },
  source: { registry: Registry; backend: RegistryBackend; url: string },
  input: ImportInput,
  requestedById: string | null,
): ImportRequest {
  if (target.registry.kind !== 'HOSTED') throw new ValidationError('imports go into a hosted registry', 'targetRegistryId');
  if (!isRepositoryName(input.sourceRepository) || source.backend.pathOf(input.sourceRepository) === null) {
    throw new ValidationError('not a repository name (lowercase path components separated by "/")', 'sourceRepository');
  }
  if (!isTag(input.reference) && !isDigest(input.reference)) throw new ValidationError('a tag or a digest (sha256:…)', 'reference');
  const targetRepository = input.targetRepository ?? input.sourceRepository.split('/').at(-1)!;
  if (target.backend.pathOf(targetRepository) === null) throw new ValidationError('not a repository name', 'targetRepository');
  const targetTag = input.targetTag ?? (isTag(input.reference) ? input.reference : null);
  if (targetTag !== null && !isTag(targetTag)) throw new ValidationError('not a tag (up to 128 letters, digits, "_", "." and "-")', 'targetTag');
  return {
    registryId: target.registry.id,
    sourceRegistryId: source.registry.id,
    sourceUrl: source.url,
    sourceRepository: input.sourceRepository,
    reference: input.reference,
    targetRepository,
    targetTag,
    requestedById,
  };
}
