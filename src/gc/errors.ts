import { BerthError } from '../errors.js';
import type { GcJob } from '../generated/prisma/client.js';

/** The registry already has a garbage collection queued or running; `job` is that one. */
export class GcAlreadyRunningError extends BerthError {
  constructor(readonly job: GcJob) {
    super(`the registry already has a garbage collection ${job.status === 'QUEUED' ? 'waiting to run' : 'running'}`);
  }
}

/** Why a running job was stopped before its end: the reason becomes the job's status and error. */
export class GcAbort extends Error {
  constructor(
    readonly status: 'CANCELLED' | 'INTERRUPTED',
    message: string,
  ) {
    super(message);
    this.name = 'GcAbort';
  }
}
