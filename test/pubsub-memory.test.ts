import { describe, expect, it } from 'vitest';
import { createBerthPubSub } from '../src/pubsub.js';

describe('the in-process pub/sub', () => {
  it('takes many subscribers of one topic without a listener-leak warning, and reaches each', async () => {
    const pubsub = createBerthPubSub(null);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const subscribers = Array.from({ length: 50 }, () => pubsub.subscribe('gcRun:signal')[Symbol.asyncIterator]());
      const received = Promise.all(subscribers.map((subscriber) => subscriber.next()));
      pubsub.publish('gcRun:signal', { kind: 'queued', runId: 'run-1' });
      expect((await received).map((result) => result.value)).toEqual(Array.from({ length: 50 }, () => ({ kind: 'queued', runId: 'run-1' })));
      await Promise.all(subscribers.map((subscriber) => subscriber.return?.()));
      // Node emits the warning on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await pubsub.close();
    }
  });
});
