// Loads every type family into the builder, then builds the schema. Imports only: each family
// registers itself, and the order below is the order types reference each other.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './errors.js';
import './user.js';
import './registry.js';
import './repository.js';
import './tag.js';
import './image.js';
import './registry-event.js';
import './credentials.js';
import './namespace.js';
import './gc-job.js';
import './import-job.js';
import './cleanup-policy.js';
import './cleanup-job.js';
import './backend-errors.js';
import './connection-errors.js';
import './content-deletion.js';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const schema = builder.toSchema();

/** The committed schema.graphql: printed sorted, so diffs show real changes only. */
export function printSortedSchema(): string {
  return printSchema(lexicographicSortSchema(schema));
}
