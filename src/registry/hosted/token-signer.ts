import { execFile } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomUUID,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { writeFileAtomic } from '../../atomic-file.js';
import type { AccessGrant } from '../v2/scope.js';

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

const KEY_FILE = 'token-signer.key';
const CERT_FILE = 'token-signer.crt';
const CERT_VALIDITY_DAYS = 3650;
/** Re-issue the certificate this long before it expires, so a running registry never sees it lapse. */
const CERT_RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export interface RegistryTokenSignerOptions {
  /** Where the key and certificate live; created on first start. */
  dir: string;
  /** `iss` of every token; the registry's `auth.token.issuer` must match. */
  issuer: string;
  /** `aud` of every token; the registry's `auth.token.service` must match. */
  service: string;
  /** Default token lifetime. @default 300 */
  lifetimeSeconds?: number;
  /** @default '/usr/bin/openssl' */
  openssl?: string;
}

export interface SignedRegistryToken {
  token: string;
  issuedAt: Date;
  expiresAt: Date;
  /** Seconds, as the token endpoint's `expires_in` wants it. */
  expiresIn: number;
}

/**
 * berth is the registry's token server: this signs the JWTs that `auth.token` in the registry
 * config trusts through `certBundlePath`. The RSA key is made once and kept in `dir`.
 */
export class RegistryTokenSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    /** libtrust fingerprint of the public key: the `kid` distribution 2.8 looks up in its bundle. */
    readonly keyId: string,
    /** PEM certificate(s) for the registry's `auth.token.rootcertbundle`. */
    readonly certBundlePath: string,
    readonly issuer: string,
    readonly service: string,
    readonly lifetimeSeconds: number,
  ) {}

  /** Loads the key and certificate from `options.dir`, creating or renewing what is missing. */
  static async open(options: RegistryTokenSignerOptions): Promise<RegistryTokenSigner> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const keyPath = join(options.dir, KEY_FILE);
    const certPath = join(options.dir, CERT_FILE);
    const privateKey = await loadOrCreateKey(keyPath);
    await ensureCertificate(certPath, keyPath, privateKey, options.openssl ?? '/usr/bin/openssl');
    return new RegistryTokenSigner(
      privateKey,
      libtrustKeyId(createPublicKey(privateKey)),
      certPath,
      options.issuer,
      options.service,
      options.lifetimeSeconds ?? 300,
    );
  }

  /** Signs a token for `subject` (it becomes `actor.name` in registry notifications). */
  async sign(
    subject: string,
    access: readonly AccessGrant[],
    options: { lifetimeSeconds?: number } = {},
  ): Promise<SignedRegistryToken> {
    const lifetime = options.lifetimeSeconds ?? this.lifetimeSeconds;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access: access.map(({ type, name, actions }) => ({ type, name, actions })) })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keyId })
      .setIssuer(this.issuer)
      .setSubject(subject)
      // distribution 2.8 unmarshals `aud` into a Go string: an array is rejected as invalid_token.
      .setAudience(this.service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, issuedAt: new Date(now * 1000), expiresAt: new Date((now + lifetime) * 1000), expiresIn: lifetime };
  }
}

/**
 * The libtrust key ID: base32 (RFC 4648, unpadded) of the first 240 bits of sha256 over the DER
 * SubjectPublicKeyInfo, in 12 groups of 4 joined by ':'. An RFC 7638 thumbprint is not accepted.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const fingerprint = base32(createHash('sha256').update(spki).digest().subarray(0, 30));
  return (fingerprint.match(/.{4}/g) ?? []).join(':');
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffered = 0;
  let bitCount = 0;
  for (const byte of bytes) {
    buffered = ((buffered << 8) | byte) & 0xfff;
    bitCount += 8;
    while (bitCount >= 5) {
      bitCount -= 5;
      out += BASE32_ALPHABET[(buffered >>> bitCount) & 31];
    }
  }
  if (bitCount > 0) out += BASE32_ALPHABET[(buffered << (5 - bitCount)) & 31];
  return out;
}

async function loadOrCreateKey(keyPath: string): Promise<KeyObject> {
  const existing = await readIfExists(keyPath);
  if (existing !== undefined) {
    const key = createPrivateKey(existing);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`${keyPath} is not an RSA key; RS256 tokens need one`);
    return key;
  }
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  await writeFileAtomic(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), 0o600);
  return privateKey;
}

/** A certificate that no longer matches the key (key replaced by hand) or is about to expire is re-issued. */
async function ensureCertificate(certPath: string, keyPath: string, key: KeyObject, openssl: string): Promise<void> {
  const existing = await readIfExists(certPath);
  if (existing !== undefined) {
    const cert = new X509Certificate(existing);
    const fresh = Date.parse(cert.validTo) - Date.now() > CERT_RENEW_BEFORE_MS;
    if (fresh && cert.checkPrivateKey(key)) return;
  }
  const { stdout } = await execFileAsync(openssl, [
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-subj',
    '/CN=berth registry token signer',
    '-days',
    String(CERT_VALIDITY_DAYS),
    '-sha256',
  ]);
  await writeFileAtomic(certPath, stdout, 0o644);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}
