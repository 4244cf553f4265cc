import { parentPort } from 'node:worker_threads';
import { RegistryRelay } from './relay.js';
import type { RelayCommand, RelayReply } from './relay-thread.js';

/** The registry port's relay, in the thread RelayThread starts: it does what the parent asks and answers each call. */
const port = parentPort;
if (!port) throw new Error('relay-worker.ts runs as a worker thread (RelayThread)');

const post = (message: RelayReply): void => port.postMessage(message);
const relay = new RegistryRelay((failure) => post({ kind: 'unreachable', failure }));

port.on('message', (command: RelayCommand) => {
  const answer = (run: () => Promise<unknown>): void => {
    run().then(
      (value) => post({ kind: 'done', id: command.id, value }),
      (error: unknown) => post({ kind: 'failed', id: command.id, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  };
  switch (command.op) {
    case 'listen':
      return answer(() => relay.listen(command.target));
    case 'serveFrom':
      return answer(async () => relay.serveFrom(command.socketPath === null ? null : { socketPath: command.socketPath }));
    case 'refuseWrites':
      return answer(async () => relay.refuseWrites(command.reason));
    case 'writesSettled':
      return answer(() => relay.writesSettled(command.timeoutMs));
    case 'close':
      return answer(() => relay.close());
  }
});
