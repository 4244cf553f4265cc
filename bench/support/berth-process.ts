import { ServerKey } from '../../src/auth/server-key.js';
import { freePort } from '../../test/support/registry-process.js';
import type { ScratchDatabase } from './databases.js';
import { type ServerProcess, startServerProcess } from './processes.js';

/** The key the benchmarks' berth runs with, so they can issue its API tokens themselves. */
const SECRET_KEY = 'bench-secret-key-bench-secret-key-0123456789';

export function benchServerKey(database: ScratchDatabase): Promise<ServerKey> {
  return ServerKey.load({ secretKey: SECRET_KEY, dataDir: database.dataDir });
}

/** berth as it runs in production (src/main.ts, NODE_ENV=production), on the scratch database, in a process of its own. */
export async function startBerthProcess(database: ScratchDatabase, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  return startServerProcess('src/main.ts', {
    port,
    readyPath: '/readyz',
    env: {
      DATABASE_URL: database.url,
      BERTH_DATA_DIR: database.dataDir,
      BERTH_PORT: String(port),
      BERTH_REGISTRY_PORT: String(await freePort()),
      BERTH_SECRET_KEY: SECRET_KEY,
      BERTH_LOG_LEVEL: 'warn',
      ...env,
    },
  });
}
