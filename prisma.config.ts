import { defineConfig } from 'prisma/config';

// Every Prisma 7 CLI command first downloads the native schema-engine binary unless this points at
// an existing file; the download cannot work offline and nothing here needs the binary: `generate`
// does not use it and migrations run through the WebAssembly engine (scripts/migrate.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= '/bin/false';

// Where the binary is reachable, `prisma migrate deploy` works on the same folders as
// scripts/migrate.ts: the provider follows DATABASE_URL, as it does for berth itself.
const url = process.env.DATABASE_URL ?? 'file:./data/berth.db';
const dir = /^postgres(ql)?:\/\//.test(url) ? 'prisma/postgresql' : 'prisma';

export default defineConfig({
  schema: `${dir}/schema.prisma`,
  migrations: { path: `${dir}/migrations` },
  datasource: { url },
});
