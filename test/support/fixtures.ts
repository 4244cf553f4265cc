import { ADD_MEMBER, CREATE_NAMESPACE, CREATE_REGISTRY } from '../schema/operations.js';
import type { Client } from './app.js';

let slugCounter = 0;

export function uniqueSlug(prefix = 'team'): string {
  return `${prefix}${++slugCounter}x${process.pid}`;
}

/** Creates a namespace as `client` (its OWNER) and returns its global ID and slug. */
export async function createNamespace(client: Client, slug = uniqueSlug('ns')): Promise<{ id: string; slug: string }> {
  const { data } = await client.execute(CREATE_NAMESPACE, { input: { slug, name: `Namespace ${slug}` } });
  const namespace = data?.createNamespace?.namespace;
  if (!namespace) throw new Error(`createNamespace failed: ${JSON.stringify(data)}`);
  return { id: namespace.id, slug };
}

/** Creates a hosted registry and returns its global ID and slug. */
export async function createRegistry(
  client: Client,
  namespaceId: string,
  input: { name?: string; slug?: string; public?: boolean; quotaBytes?: number } = {},
): Promise<{ id: string; slug: string }> {
  const slug = input.slug ?? uniqueSlug('reg');
  const { data } = await client.execute(CREATE_REGISTRY, { input: { namespaceId, name: input.name ?? slug, ...input, slug } });
  const registry = data?.createRegistry?.registry;
  if (!registry) throw new Error(`createRegistry failed: ${JSON.stringify(data)}`);
  return { id: registry.id, slug };
}

/** Gives `member` a role in the namespace, through the API as its owner. */
export async function addMember(owner: Client, namespaceId: string, member: Client, role: 'OWNER' | 'MAINTAINER' | 'VIEWER'): Promise<void> {
  const { data } = await owner.execute(ADD_MEMBER, { input: { namespaceId, userId: member.userId, role } });
  if (data?.addNamespaceMember?.__typename !== 'AddNamespaceMemberPayload') throw new Error(`addNamespaceMember failed: ${JSON.stringify(data)}`);
}
