// Writes schema.graphql from the Pothos schema; test/schema/schema-drift.test.ts fails when it is stale.
import { writeFileSync } from 'node:fs';
import { printSortedSchema } from '../src/schema/index.js';

writeFileSync('schema.graphql', `${printSortedSchema()}\n`);
console.log('wrote schema.graphql');
