import { createHash } from 'node:crypto';
import { BerthError } from '../errors.js';
import type { RegistryClient } from '../registry/v2/client.js';
import type { PlannedBlob } from './import-plan.js';

/** The source sent other bytes than its digest names (bit rot, a broken proxy): nothing is stored. */
export class BlobVerificationError extends BerthError {}

export interface BlobEndpoint {
  client: RegistryClient;
  repository: string;
}

/**
 * Streams one blob from the source into the target without holding it in memory: each chunk is
 * hashed and counted on its way through, and a blob whose bytes do not match its digest and size is
 * failed before the upload completes, so the target never stores it (the registry checks the digest
 * too, on the final PUT). `onBytes` hears of every chunk that moved.
 */
export async function copyBlob(
  source: BlobEndpoint,
  target: BlobEndpoint,
  blob: PlannedBlob,
  onBytes: (count: number) => void,
  signal: AbortSignal,
): Promise<void> {
  signal.throwIfAborted();
  const [algorithm, expected] = blob.digest.split(':') as [string, string];
  const hash = createHash(algorithm);
  let size = 0;
  let failure: Error | null = null;
  const { body } = await source.client.getBlobStream(source.repository, blob.digest);
  const verified = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        if (signal.aborted) {
          failure = signal.reason instanceof Error ? signal.reason : new Error('cancelled');
          controller.error(failure);
          return;
        }
        hash.update(chunk);
        size += chunk.byteLength;
        onBytes(chunk.byteLength);
        controller.enqueue(chunk);
      },
      flush: (controller) => {
        const actual = hash.digest('hex');
        if (actual === expected && size === blob.size) return;
        failure = new BlobVerificationError(
          `blob ${blob.digest} from the source does not match its digest (got ${size} bytes hashing to ${algorithm}:${actual.slice(0, 12)}…, expected ${blob.size} bytes); nothing was stored`,
        );
        controller.error(failure);
      },
    }),
  );
  try {
    await target.client.pushBlobStream(target.repository, blob.digest, blob.size, verified);
  } catch (error) {
    throw failure ?? error;
  }
}
