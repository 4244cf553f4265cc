import type { ServerKey } from '../auth/server-key.js';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { BackendUnavailableError, ConflictError, ValidationError } from '../errors.js';
import type { Prisma, Registry } from '../generated/prisma/client.js';
import type { RegistryBackend } from '../registry/backend.js';
import type { ContentIndexWriter } from '../registry/content-index/writer.js';
import { deleteRegistryContent } from '../registry/content-deletion.js';
import type { HostedBackend } from '../registry/hosted/hosted-backend.js';
import { quotaRefusals } from '../registry/hosted/quota.js';
import { generateRobotCredentials, type IssuedCredentials } from '../registry/hosted/robot-accounts.js';
import { slugProblem, type SlugProblem } from '../registry/hosted/slug.js';
import { type ProbeResult, probeRegistry, requireReachableRegistry } from '../registry/remote/connection-probe.js';
import { decryptPassword, encryptPassword } from '../registry/remote/password-cipher.js';
import { normaliseRegistryUrl } from '../registry/remote/registry-url.js';
import { remoteClient } from '../registry/remote/remote-clients.js';
import { RegistryUnavailableError } from '../registry/v2/errors.js';
import { requireDisplayName, requirePositiveBytes } from '../validation.js';

/**
 * The rules for registries: hosted ones (a slug on berth's backend, a robot account, a quota) and
 * connections to outside registries (a URL, credentials kept encrypted, at most one default per
 * namespace). Callers have already found the namespace or registry and checked the viewer's role.
 */

export interface RegistryRules {
  readonly db: Db;
  readonly config: Config;
  readonly serverKey: ServerKey;
  readonly registry: Pick<HostedBackend, 'clearSlug' | 'signer'>;
  readonly contentIndex: Pick<ContentIndexWriter, 'slugCleared'>;
}

/** The registry and berth may disagree on the time by this much when it checks a token's expiry. */
const CLOCK_SKEW_MS = 60_000;

const USERNAME_MAX_LENGTH = 256;
const PASSWORD_MAX_LENGTH = 4096;

/** Where docker clients reach a hosted registry: `<public registry host>/<slug>`. */
export function registryEndpoint(publicHost: string, slug: string | null): string {
  return slug === null ? publicHost : `${publicHost}/${slug}`;
}

export type SlugAvailability = { available: true } | ({ available: false } & (SlugProblem | { reason: 'TAKEN'; message: string }));

/**
 * Whether a registry may take `slug`; for `namespaceId` when one is creating it. The namespace of a
 * registry deleted under the slug may take it back at once (its own members held the tokens still
 * valid for it); others wait until those tokens have expired.
 */
export async function slugAvailability(db: Db, slug: string, namespaceId: string | null = null): Promise<SlugAvailability> {
  const problem = slugProblem(slug);
  if (problem) return { available: false, ...problem };
  const [taken, retired] = await Promise.all([
    db.registry.findUnique({ where: { slug }, select: { id: true } }),
    db.retiredSlug.findUnique({ where: { slug } }),
  ]);
  if (taken) return { available: false, reason: 'TAKEN', message: `"${slug}" is taken` };
  if (retired && retired.namespaceId !== namespaceId && (retired.retiredUntil === null || retired.retiredUntil > new Date())) {
    const until = retired.retiredUntil
      ? `until ${retired.retiredUntil.toISOString()}, when no token issued for it is valid any more (its namespace may take it back at once)`
      : 'for good: berth does not run the registry that stored it and cannot clear what is stored under it (its namespace may take it back)';
    return { available: false, reason: 'RESERVED', message: `"${slug}" belonged to a registry deleted at ${retired.retiredAt.toISOString()} and is retired ${until}` };
  }
  return { available: true };
}

export async function createHostedRegistry(
  { db, config, registry: backend }: RegistryRules,
  namespaceId: string,
  input: { name: string; slug: string; public?: boolean | null; quotaBytes?: number | null },
): Promise<{ registry: Registry; credentials: IssuedCredentials }> {
  const name = requireDisplayName(input.name, 'name');
  const quotaBytes = input.quotaBytes == null ? null : requirePositiveBytes(input.quotaBytes, 'quotaBytes');
  const slug = await slugAvailability(db, input.slug, namespaceId);
  if (!slug.available) {
    if (slug.reason === 'TAKEN') throw new ConflictError(`the slug "${input.slug}" is taken`);
    throw new ValidationError(slug.message, 'slug');
  }
  await requireFreeName(db, namespaceId, name);
  const { issued, secretHash } = await generateRobotCredentials(input.slug, config.registry.publicHost);
  // Whatever is stored under a free slug belongs to no registry: a token for a deleted one may have
  // pushed there until it expired. The new registry starts empty.
  await backend.clearSlug(input.slug);
  const [registry] = await conflictOnDuplicate(
    () =>
      db.$transaction([
        db.registry.create({
          data: {
            namespaceId,
            kind: 'HOSTED',
            name,
            slug: input.slug,
            public: input.public ?? false,
            quotaBytes,
            robot: { create: { username: issued.username, secretHash } },
          },
        }),
        db.retiredSlug.deleteMany({ where: { slug: input.slug } }),
      ]),
    `the slug "${input.slug}" or the name "${name}" is taken`,
  );
  return { registry, credentials: issued };
}

export interface ConnectionInput {
  name: string;
  url: string;
  username?: string | null;
  password?: string | null;
  isDefault?: boolean | null;
  insecure?: boolean | null;
}

/**
 * Connects an outside registry after probing it as a docker client would log in. The password is
 * stored encrypted and never returned; a failed probe stores nothing.
 */
export async function connectExternalRegistry(rules: RegistryRules, namespaceId: string, input: ConnectionInput): Promise<Registry> {
  const { db } = rules;
  const name = requireDisplayName(input.name, 'name');
  const insecure = input.insecure ?? false;
  const url = normaliseRegistryUrl(input.url, insecure);
  const credentials = requireCredentials(input.username ?? null, input.password ?? null);
  await requireFreeName(db, namespaceId, name);
  await requireUnconnectedUrl(db, namespaceId, url, null);
  await requireReachableRegistry(remoteClient(url, credentials));
  return conflictOnDuplicate(
    () =>
      db.$transaction(async (tx) => {
        if (input.isDefault) await tx.registry.updateMany({ where: { namespaceId, isDefault: true }, data: { isDefault: false } });
        return tx.registry.create({
          data: {
            namespaceId,
            kind: 'EXTERNAL',
            name,
            url,
            insecure,
            isDefault: input.isDefault ?? false,
            username: credentials?.username ?? null,
            passwordCiphertext: credentials ? sealPassword(rules, credentials.password) : null,
          },
        });
      }),
    `the namespace already has a registry named "${name}" or connected to ${url}`,
  );
}

export interface RegistryChanges {
  name?: string | null;
  public?: boolean | null;
  quotaBytes?: number | null;
  url?: string | null;
  username?: string | null;
  password?: string | null;
  isDefault?: boolean | null;
  insecure?: boolean | null;
}

/**
 * Changes a registry; omitted fields keep their value. A connection whose address or credentials
 * change is probed again first. A new URL without a new password drops the stored one: it was
 * given for the old host.
 */
export async function updateRegistry(rules: RegistryRules, registry: Registry, input: RegistryChanges): Promise<{ registry: Registry; warnings: string[] }> {
  const { db } = rules;
  const name = input.name == null ? undefined : requireDisplayName(input.name, 'name');
  if (input.public === null) throw new ValidationError('must be true or false when given', 'public');
  if (name !== undefined && name !== registry.name) await requireFreeName(db, registry.namespaceId, name);
  const data: Prisma.RegistryUpdateInput = { name, public: input.public };
  if (registry.kind === 'HOSTED') {
    for (const field of ['url', 'username', 'password', 'insecure'] as const) {
      if (input[field] != null) throw new ValidationError('only connections to outside registries have this', field);
    }
    if (input.isDefault) throw new ValidationError('only a connection to an outside registry can be the default import source', 'isDefault');
    if (input.quotaBytes !== undefined) data.quotaBytes = input.quotaBytes === null ? null : requirePositiveBytes(input.quotaBytes, 'quotaBytes');
  } else {
    if (input.quotaBytes != null) throw new ValidationError('berth stores nothing for a connection; quotas are for hosted registries', 'quotaBytes');
    if (input.public) throw new ValidationError('a connection is not served by berth, so it cannot be public', 'public');
    Object.assign(data, await connectionChanges(rules, registry, input));
  }
  const updated = await conflictOnDuplicate(
    () =>
      db.$transaction(async (tx) => {
        if (input.isDefault) await tx.registry.updateMany({ where: { namespaceId: registry.namespaceId, isDefault: true, id: { not: registry.id } }, data: { isDefault: false } });
        return tx.registry.update({ where: { id: registry.id }, data: { ...data, ...(input.isDefault != null ? { isDefault: input.isDefault } : {}) } });
      }),
    `the namespace already has a registry named "${name}" or connected to that URL`,
  );
  const quota = data.quotaBytes;
  return { registry: updated, warnings: typeof quota === 'bigint' && updated.slug ? await quotaWarnings(db, updated.slug, quota) : [] };
}

async function connectionChanges(rules: RegistryRules, registry: Registry, input: RegistryChanges): Promise<Prisma.RegistryUpdateInput> {
  if (input.url == null && input.username === undefined && input.password === undefined && input.insecure == null) return {};
  const insecure = input.insecure ?? registry.insecure;
  const url = normaliseRegistryUrl(input.url ?? registry.url!, insecure, input.url == null ? 'insecure' : 'url');
  const urlChanged = url !== registry.url;
  if (urlChanged) await requireUnconnectedUrl(rules.db, registry.namespaceId, url, registry.id);
  const username = input.username !== undefined ? input.username || null : registry.username;
  // A password belongs to the host it was given for: a new URL without one drops the stored one.
  const newPassword = input.password !== undefined ? input.password || null : urlChanged ? null : undefined;
  const password = newPassword !== undefined ? newPassword : registry.passwordCiphertext && decryptPassword(rules.serverKey.derive('registry-password'), registry.passwordCiphertext);
  const credentials = requireCredentials(username, password);
  await requireReachableRegistry(remoteClient(url, credentials));
  return {
    url,
    insecure,
    username,
    ...(newPassword === undefined ? {} : { passwordCiphertext: credentials && newPassword !== null ? sealPassword(rules, newPassword) : null }),
  };
}

/** A connection's probe, as testRegistryConnection reports it. */
export function testConnection(backend: RegistryBackend): Promise<ProbeResult> {
  return probeRegistry(backend.client);
}

/**
 * Deletes a registry. A hosted one that holds content needs `force`, which deletes the content first
 * (the row stays while anything is left, so nothing is lost unseen). A connection just goes: the
 * outside registry keeps its content, and images imported from it stay. Returns the names of the
 * repositories emptied.
 */
/**
 * Deletes a registry. A hosted one is emptied first (with `force`): its repositories are deleted
 * through the V2 API, then everything left under its slug is removed from storage, so that no later
 * registry under the same slug can read a layer by digest. The slug stays retired while a token
 * issued for the registry may still be valid. If the content cannot all be deleted, the registry is
 * kept, in its previous state.
 */
export async function deleteRegistry(rules: RegistryRules, registry: Registry, backend: RegistryBackend, force: boolean): Promise<string[]> {
  const { db } = rules;
  const owned = await backend.ownedContent();
  if (owned.length > 0 && !force) {
    throw new ConflictError(`the registry holds ${owned.length} repositor${owned.length === 1 ? 'y' : 'ies'}; delete them first, or pass force: true`);
  }
  if (registry.kind !== 'HOSTED' || registry.slug === null) {
    await db.registry.delete({ where: { id: registry.id } });
    return [];
  }
  const slug = registry.slug;
  // The token endpoint grants nothing on a registry being deleted.
  await db.registry.update({ where: { id: registry.id }, data: { state: 'DELETING' } });
  const keep = async (error: unknown): Promise<never> => {
    await db.registry.update({ where: { id: registry.id }, data: { state: registry.state } });
    throw error;
  };
  if (owned.length > 0) {
    const result = await deleteRegistryContent(backend.client, owned).catch(keep);
    for (const deleted of result.repositories) await backend.recordDeletion(deleted.repository, deleted.deletedTagNames, deleted.deletedDigests);
    if (result.failed.length > 0) {
      await keep(new BackendUnavailableError(`the registry is kept: ${result.failed.length} repositories could not be deleted (${result.failed.map((f) => f.name).join(', ')})`));
    }
  }
  const cleared = await rules.registry.clearSlug(slug).catch(keep);
  await rules.contentIndex.slugCleared(slug);
  const retiredUntil = cleared ? new Date(Date.now() + rules.registry.signer.lifetimeSeconds * 1000 + CLOCK_SKEW_MS) : null;
  await db.$transaction([
    db.registry.delete({ where: { id: registry.id } }),
    db.retiredSlug.upsert({ where: { slug }, create: { slug, namespaceId: registry.namespaceId, retiredUntil }, update: { namespaceId: registry.namespaceId, retiredUntil, retiredAt: new Date() } }),
  ]);
  return owned.map(({ path }) => backend.nameOf(path));
}

/** New robot credentials for a hosted registry; the old password stops working for new tokens at once. */
export async function rotateRobotCredentials({ db, config }: RegistryRules, registry: Registry): Promise<IssuedCredentials> {
  if (registry.kind !== 'HOSTED' || registry.slug === null) throw new ValidationError('only hosted registries have robot credentials', 'registryId');
  const { issued, secretHash } = await generateRobotCredentials(registry.slug, config.registry.publicHost);
  await db.robotAccount.upsert({
    where: { registryId: registry.id },
    create: { registryId: registry.id, username: issued.username, secretHash },
    update: { username: issued.username, secretHash, rotatedAt: new Date() },
  });
  return issued;
}

function sealPassword({ serverKey }: RegistryRules, password: string): string {
  return encryptPassword(serverKey.derive('registry-password'), password);
}

/** Username and password go together: none (anonymous), or a username with a password (possibly empty). */
function requireCredentials(username: string | null, password: string | null): { username: string; password: string } | null {
  if (username === null || username === '') {
    if (password) throw new ValidationError('a password needs a username', 'username');
    return null;
  }
  if (username.length > USERNAME_MAX_LENGTH || /\p{Cc}|:/u.test(username)) {
    throw new ValidationError(`a username has at most ${USERNAME_MAX_LENGTH} characters, no ':' and no control characters`, 'username');
  }
  if (password !== null && password.length > PASSWORD_MAX_LENGTH) throw new ValidationError(`a password has at most ${PASSWORD_MAX_LENGTH} characters`, 'password');
  return { username, password: password ?? '' };
}

async function requireFreeName(db: Db, namespaceId: string, name: string): Promise<void> {
  if (await db.registry.findFirst({ where: { namespaceId, name }, select: { id: true } })) {
    throw new ConflictError(`the namespace already has a registry named "${name}"`);
  }
}

async function requireUnconnectedUrl(db: Db, namespaceId: string, url: string, except: string | null): Promise<void> {
  const existing = await db.registry.findFirst({ where: { namespaceId, url, ...(except ? { id: { not: except } } : {}) }, select: { name: true } });
  if (existing) throw new ConflictError(`${url} is already connected in this namespace, as "${existing.name}"`);
}

async function conflictOnDuplicate<T>(write: () => Promise<T>, message: string): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(message);
    throw error;
  }
}

/** A quota below current usage is allowed (it stops pushes, nothing is deleted), but said. */
async function quotaWarnings(db: Db, slug: string, quotaBytes: bigint): Promise<string[]> {
  try {
    const [exceeded] = (await quotaRefusals(db, new Map([[slug, quotaBytes]]))).values();
    return exceeded ? [`${exceeded}: pushes are refused until usage drops below the quota`] : [];
  } catch (error) {
    if (error instanceof RegistryUnavailableError) return ['the quota is saved, but usage could not be checked'];
    throw error;
  }
}
