import { BerthError } from '../errors.js';
import type { CleanupJob } from '../generated/prisma/client.js';

/** The registry already has a cleanup queued or running: `job`. */
export class CleanupAlreadyRunningError extends BerthError {
  constructor(readonly job: CleanupJob) {
    super(`the registry already has a cleanup ${job.status === 'QUEUED' ? 'waiting to run' : 'running'}`);
  }
}

/** Why a running job was stopped before its end: the reason becomes its status and error. */
export class CleanupAbort extends Error {
  constructor(
    readonly status: 'CANCELLED' | 'INTERRUPTED',
    message: string,
  ) {
    super(message);
    this.name = 'CleanupAbort';
  }
}
