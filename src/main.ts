import { startBerth } from './app.js';
import { ensureBootstrapAdmin } from './auth/bootstrap-admin.js';
import { ServerKey } from './auth/server-key.js';
import { ConfigError, loadConfig } from './config.js';
import { createDb } from './db/client.js';
import { deployMigrations } from './db/migrations.js';
import { createLogger } from './logger.js';
import { makeDataPrivate } from './private-files.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  await makeDataPrivate(config);

  const applied = await deployMigrations(config.databaseUrl);
  if (applied.length > 0) log.info({ migrations: applied }, 'applied database migrations');
  const db = createDb(config.databaseUrl);

  // The admin exists before berth serves: ready means the configured token works.
  const serverKey = await ServerKey.load(config);
  const generatedToken = await ensureBootstrapAdmin(db, serverKey, config.adminToken, log);
  if (generatedToken) process.stdout.write(`\nberth admin API token (shown once, keep it): ${generatedToken}\n\n`);
  const berth = await startBerth(config, db, log, { serverKey });
  log.info({ url: `http://${config.host}:${config.port}/graphql` }, 'berth is listening');

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await berth.close();
    await db.$disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`berth: ${error.message}\n`);
  } else {
    process.stderr.write(`berth: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
