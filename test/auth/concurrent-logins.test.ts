import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { createNamespace } from '../support/fixtures.js';

const REVOKE_TOKEN = `mutation ($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { __typename } }`;

// An app of its own: the refusals here count towards the failed-login allowance of the address.
const app = useTestApp();

/** `size` requests with `token` sent at once, each answered with the slugs it sees or its HTTP status. */
function burst(token: string, size: number) {
  return Promise.all(
    Array.from({ length: size }, async () => {
      const response = await fetch(new URL('/graphql', app.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ namespaces(first: 5) { nodes { slug } } }' }),
      });
      if (response.status !== 200) return response.status;
      const { data } = (await response.json()) as { data: { namespaces: { nodes: { slug: string }[] } } };
      return data.namespaces.nodes.map((node) => node.slug);
    }),
  );
}

describe('requests arriving together with one token', () => {
  it('are all served by a token nobody used yet, and all refused once it is revoked', async () => {
    const user = await app.user();
    const namespace = await createNamespace(user);
    expect(await burst(user.token!, 20)).toEqual(Array(20).fill([namespace.slug]));
    const { data } = await user.execute(`{ viewer { apiTokens(first: 1) { nodes { id } } } }`);
    const revoked = await user.execute(REVOKE_TOKEN, { input: { id: data.viewer.apiTokens.nodes[0].id } });
    expect(revoked.data.revokeApiToken.__typename).toBe('RevokeApiTokenPayload');
    expect(await burst(user.token!, 5)).toEqual(Array(5).fill(401));
  });
});
