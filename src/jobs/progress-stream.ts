/**
 * A job's progress as a subscription sees it: the job as it is now, then every newer published
 * state, ending after a terminal one. It listens before it reads the snapshot, so nothing published
 * in between is lost; an event the snapshot already contains is dropped as not newer. Null when the
 * snapshot is missing (or hidden from the viewer): the caller refuses before any stream starts.
 */
export async function progressStream<Job>(
  live: AsyncIterableIterator<Job>,
  readSnapshot: () => Promise<Job | null>,
  isNewer: (next: Job, previous: Job) => boolean,
  isDone: (job: Job) => boolean,
): Promise<AsyncIterable<Job> | null> {
  // A pub/sub repeater starts listening on its first next(), not when it is created.
  const first = live.next();
  const snapshot = await readSnapshot();
  if (snapshot === null) {
    await live.return?.();
    return null;
  }
  return (async function* stream(): AsyncGenerator<Job> {
    try {
      let sent: Job = snapshot;
      yield sent;
      let pending = first;
      while (!isDone(sent)) {
        const next = await pending;
        if (next.done) return;
        pending = live.next();
        if (!isNewer(next.value, sent)) continue;
        sent = next.value;
        yield sent;
      }
    } finally {
      await live.return?.();
    }
  })();
}
