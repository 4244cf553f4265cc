import { GraphQLError } from 'graphql';
import { decodeIdOf } from './global-id.js';

export interface JobProgress<Job> {
  /** The GraphQL type the ID must name, and what the job is called in messages. */
  typename: string;
  label: string;
  /** The live events of the job with this id. */
  live(id: string): AsyncGenerator<Job>;
  /** The job as it is now, if the viewer may see it. */
  snapshot(id: string): Promise<Job | null>;
  isTerminal(job: Job): boolean;
  /** Whether `next` is a later state than `previous` (see the jobs' progress modules). */
  isNewer(next: Job, previous: Job): boolean;
}

/**
 * A job's progress as a subscription sends it: the job as it is now, then every newer state, until a
 * terminal one. It listens before reading the snapshot, so nothing published in between is lost;
 * an event that the snapshot already contains is dropped as not newer. A missing or hidden job is
 * refused up front, as a GraphQL error (subscriptions have no result union), which yoga passes on
 * unmasked.
 */
export async function jobProgress<Job>(globalId: string, job: JobProgress<Job>): Promise<AsyncIterable<Job>> {
  const notFound = () => new GraphQLError(`id: no ${job.label} ${globalId}`, { extensions: { code: 'NOT_FOUND' } });
  let id: string;
  try {
    id = decodeIdOf(job.typename, globalId, 'id');
  } catch {
    throw notFound();
  }
  const live = job.live(id);
  // The repeater starts listening on its first next(), not when it is created.
  const first = live.next();
  const current = await job.snapshot(id);
  if (!current) {
    await live.return(undefined);
    throw notFound();
  }
  return (async function* stream() {
    try {
      let sent: Job = current;
      yield sent;
      let pending = first;
      while (!job.isTerminal(sent)) {
        const next = await pending;
        if (next.done) return;
        pending = live.next();
        if (!job.isNewer(next.value, sent)) continue;
        sent = next.value;
        yield sent;
      }
    } finally {
      await live.return(undefined);
    }
  })();
}
