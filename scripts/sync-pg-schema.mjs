// Derives prisma/postgresql/schema.prisma from prisma/schema.prisma (the SQLite source of truth).
// Prisma 7 generates a provider-specific client and migrations are provider-specific SQL, so
// PostgreSQL needs its own schema file, client and migrations. Only the provider and the client
// output change; the Pothos types come from the SQLite client, which has the same models.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const source = readFileSync('prisma/schema.prisma', 'utf8');
const derived = source
  .replace(/^generator\s+(?!client\b)\w+\s*\{[^}]*\}\s*/gm, '')
  .replace(/(generator\s+client\s*\{[^}]*?output\s*=\s*)"[^"]*"/, '$1"../../src/generated/prisma-pg"')
  .replace(/(datasource\s+\w+\s*\{[^}]*?provider\s*=\s*)"sqlite"/, '$1"postgresql"');
if (!/provider\s*=\s*"postgresql"/.test(derived)) throw new Error('sync-pg-schema: no sqlite datasource in prisma/schema.prisma');

const out = `// GENERATED from prisma/schema.prisma by scripts/sync-pg-schema.mjs; do not edit.\n${derived}`;
const target = 'prisma/postgresql/schema.prisma';
mkdirSync('prisma/postgresql', { recursive: true });
let previous = '';
try {
  previous = readFileSync(target, 'utf8');
} catch {}
if (previous !== out) writeFileSync(target, out);
