import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { createNamespace } from '../support/fixtures.js';

const app = useTestApp();

/** Every object's keys, depth first, as the response text has them. */
function keyOrder(value: unknown): string[][] {
  if (Array.isArray(value)) return value.flatMap(keyOrder);
  if (value === null || typeof value !== 'object') return [];
  return [Object.keys(value), ...Object.values(value).flatMap(keyOrder)];
}

describe('responses', () => {
  it('list each object’s fields in the order the query asked for them, whichever resolver finished first', async () => {
    await createNamespace(app.admin);
    const query = '{ namespaces(first: 5) { totalCount pageInfo { hasNextPage } nodes { name slug viewerRole } } viewer { name isAdmin } }';
    const response = await fetch(new URL('/graphql', app.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${app.admin.token}` },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data: Record<string, unknown> };
    const orders = keyOrder(body.data);
    expect(orders[0]).toEqual(['namespaces', 'viewer']);
    expect(orders[1]).toEqual(['totalCount', 'pageInfo', 'nodes']);
    expect(new Set(orders.slice(2).map((keys) => keys.join(',')))).toEqual(new Set(['hasNextPage', 'name,slug,viewerRole', 'name,isAdmin']));
  });
});
