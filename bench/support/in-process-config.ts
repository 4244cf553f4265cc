import { type Config, loadConfig } from '../../src/config.js';
import { freePort } from '../../test/support/registry-process.js';
import type { ScratchDatabase } from './databases.js';

/** berth's config on a scratch database and free ports, for a benchmark that starts berth in its own process (startBerth). */
export async function inProcessConfig(database: ScratchDatabase, env: Record<string, string> = {}): Promise<Config> {
  return loadConfig({
    DATABASE_URL: database.url,
    BERTH_DATA_DIR: database.dataDir,
    BERTH_PORT: String(await freePort()),
    BERTH_REGISTRY_PORT: String(await freePort()),
    ...env,
  });
}
