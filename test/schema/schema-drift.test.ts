import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSortedSchema } from '../../src/schema/index.js';

describe('schema.graphql', () => {
  it('is the schema the code builds (run `npm run schema:write` after changing the schema)', () => {
    expect(readFileSync('schema.graphql', 'utf8')).toBe(`${printSortedSchema()}\n`);
  });

  it('keeps the names the public contract fixes', () => {
    const printed = printSortedSchema();
    for (const name of [
      'scalar DateTime', 'scalar SafeInt', 'interface Node', 'interface Error',
      'type ValidationError implements Error', 'type NotFoundError implements Error', 'type ConflictError implements Error',
      'type ForbiddenError implements Error', 'type BackendUnavailableError implements Error',
      'enum SlugUnavailableReason', 'enum NamespaceRole', 'enum RegistryKind', 'enum RegistryState',
      'union CreateNamespaceResult', 'union CreateRegistryResult', 'union UpdateRegistryResult', 'union DeleteRegistryResult',
      'union UpdateNamespaceResult', 'union DeleteNamespaceResult', 'union AddNamespaceMemberResult', 'union CreateUserResult', 'union CreateApiTokenResult',
      'registrySlugAvailability(slug: String!): SlugAvailability!', 'namespace(slug: String!): Namespace', 'viewer: User',
      'createRegistry(input: CreateRegistryInput!): CreateRegistryResult!',
    ]) {
      expect(printed).toContain(name);
    }
  });
});
