import { createHash } from 'node:crypto';
import { Transform, pipeline } from 'node:stream';
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
  const stop = (): void => void verified.destroy(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
  // pipeline() carries a failing source into the upload, and a failed check back to the source,
  // and owns the errors (the upload has its own answer to throw).
  const verified = pipeline(
    body,
    new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        hash.update(chunk);
        size += chunk.byteLength;
        onBytes(chunk.byteLength);
        done(null, chunk);
      },
      flush: (done) => {
        const actual = hash.digest('hex');
        if (actual === expected && size === blob.size) return done();
        failure = new BlobVerificationError(
          `blob ${blob.digest} from the source does not match its digest (got ${size} bytes hashing to ${algorithm}:${actual.slice(0, 12)}…, expected ${blob.size} bytes); nothing was stored`,
        );
        done(failure);
      },
    }),
    () => undefined,
  );
  // The check fails at the end of the stream, which may come after the upload has sent its last
  // byte and stopped listening: the failure is kept above and thrown below, not left uncaught.
  verified.on('error', () => undefined);
  signal.addEventListener('abort', stop, { once: true });
  try {
    await target.client.pushBlobStream(target.repository, blob.digest, blob.size, verified);
  } catch (error) {
    throw failure ?? error;
  } finally {
    signal.removeEventListener('abort', stop);
    body.destroy();
  }
}
