/**
 * Migrations without the Prisma CLI (see src/db/migrations.ts for why).
 *   deploy        apply pending migrations to DATABASE_URL
 *   check         exit 1 when the migration history does not produce prisma/schema.prisma
 *   dev <name>    apply pending migrations, then create and apply one for the schema's changes
 * DATABASE_URL defaults to berth's embedded SQLite file.
 */
import { createMigration, deployMigrations, migrationDrift } from '../src/db/migrations.js';

const url = process.env.DATABASE_URL || 'file:./data/berth.db';
const [command, name] = process.argv.slice(2);
const where = url.replace(/\/\/[^@/]*@/, '//');

async function main(): Promise<number> {
  switch (command) {
    case 'deploy': {
      const applied = await deployMigrations(url);
      console.log(applied.length ? `${where}: applied ${applied.join(', ')}` : `${where}: no pending migrations`);
      return 0;
    }
    case 'check': {
      const missing = await migrationDrift(url);
      if (missing === null) {
        console.log(`${where}: migrations are in sync with the schema`);
        return 0;
      }
      console.error(`${where}: the schema has changes no migration covers; run "npm run db:migrate -- <name>".\n${missing}`);
      return 1;
    }
    case 'dev': {
      if (!name) throw new Error('usage: npm run db:migrate -- <name>');
      const created = await createMigration(url, name);
      console.log(created ? `created and applied ${created}` : 'the schema has no changes to migrate');
      return 0;
    }
    default:
      throw new Error(`unknown command "${command ?? ''}"; use deploy, check or dev <name>`);
  }
}

// Exit explicitly: on PostgreSQL the wasm engine leaves a timer pending for about ten seconds.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
