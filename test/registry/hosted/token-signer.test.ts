import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { RegistryTokenSigner } from '../../../src/registry/hosted/token-signer.js';
import { buildImage, pushArtifact } from '../../support/oci-images.js';
import { useTestRegistry } from '../../support/registry-process.js';

const registry = useTestRegistry();
const scratch = await mkdtemp(join(tmpdir(), 'berth-signer-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const open = (dir: string): Promise<RegistryTokenSigner> =>
  RegistryTokenSigner.open({ dir, issuer: 'berth-test', service: 'berth-test-registry' });

/** The libtrust key ID computed by openssl and coreutils, independently of berth's code. */
async function keyIdByOpenssl(certPath: string): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [
    '-c',
    'openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | head -c 30 | base32 -w0',
    'keyid',
    certPath,
  ]);
  return (stdout.trim().match(/.{4}/g) ?? []).join(':');
}

async function tagsStatus(repository: string, token: string): Promise<{ status: number; challenge: string | null }> {
  const res = await fetch(`${registry.url}/v2/${repository}/tags/list`, { headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}

describe('RegistryTokenSigner', () => {
  it('creates a private key (0600) and a certificate once, and loads them afterwards', async () => {
    const dir = join(scratch, 'first-start');
    const created = await open(dir);
    expect((await stat(join(dir, 'token-signer.key'))).mode & 0o777).toBe(0o600);
    expect(created.certBundlePath).toBe(join(dir, 'token-signer.crt'));
    expect(created.keyId).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    expect(created.keyId).toBe(await keyIdByOpenssl(created.certBundlePath));

    const reopened = await open(dir);
    expect(reopened.keyId).toBe(created.keyId);

    await rm(created.certBundlePath);
    const reissued = await open(dir);
    expect(reissued.keyId).toBe(created.keyId);
    expect(await keyIdByOpenssl(reissued.certBundlePath)).toBe(created.keyId);
  });

  it('signs RS256 tokens with the libtrust kid, a string audience and the granted access', async () => {
    const signer = await open(join(scratch, 'claims'));
    const access = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];
    const signed = await signer.sign('alice', access);

    expect(decodeProtectedHeader(signed.token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: signer.keyId });
    const claims = decodeJwt(signed.token);
    expect(claims).toMatchObject({ iss: 'berth-test', sub: 'alice', aud: 'berth-test-registry', access });
    expect(typeof claims.aud).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.jti).toEqual(expect.any(String));
    expect(signed.expiresIn).toBe(300);
    expect(signed.expiresAt.getTime() - signed.issuedAt.getTime()).toBe(300_000);
    expect(decodeJwt((await signer.sign('alice', [], { lifetimeSeconds: 60 })).token)).toMatchObject({ access: [] });
  });

  it('is trusted by the registry, and a token for one repository does not open another', async () => {
    await pushArtifact(registry.client, 'tenant-a/app', 'v1', buildImage());
    await pushArtifact(registry.client, 'tenant-b/app', 'v1', buildImage());
    const forA = await registry.token(['repository:tenant-a/app:pull']);

    expect(await tagsStatus('tenant-a/app', forA)).toMatchObject({ status: 200 });
    const denied = await tagsStatus('tenant-b/app', forA);
    expect(denied.status).toBe(401);
    expect(denied.challenge).toContain('error="insufficient_scope"');
  });

  it('is the only signer the registry trusts', async () => {
    const stranger = await open(join(scratch, 'stranger'));
    const forged = await stranger.sign('mallory', [{ type: 'repository', name: 'tenant-a/app', actions: ['pull'] }]);
    const answer = await tagsStatus('tenant-a/app', forged.token);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toContain('error="invalid_token"');
  });
});
