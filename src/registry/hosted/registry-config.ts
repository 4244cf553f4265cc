/** The config.yml of berth's embedded docker-registry (CNCF distribution 2.8). */
export interface RegistryConfig {
  /**
   * The unix socket it listens on; berth's relay owns the TCP port. Each process gets its own
   * through `REGISTRY_HTTP_ADDR`.
   */
  socketPath: string;
  /** On SIGTERM, how long requests in flight may take to finish (`http.draintimeout`). */
  drainTimeoutS: number;
  /** Filesystem storage root. */
  storageDir: string;
  /** HMAC key of upload session state; keep it stable across processes so uploads in flight survive a restart. */
  httpSecret: string;
  auth: {
    /** Where clients get tokens: berth's `/auth/token`. */
    realm: string;
    service: string;
    issuer: string;
    rootCertBundle: string;
  };
  notifications: {
    /** berth's `/hooks/registry`. */
    url: string;
    /** Sent as `Authorization: Bearer <secret>` with every delivery. */
    secret: string;
  };
}

export function renderRegistryConfig(config: RegistryConfig): string {
  const document: YamlMap = {
    version: '0.1',
    log: { level: 'info', formatter: 'json', fields: { service: 'registry' } },
    storage: {
      filesystem: { rootdirectory: config.storageDir },
      delete: { enabled: true },
      // No `cache.blobdescriptor`: after GC an in-memory cache keeps vouching for deleted blobs
      // and the registry then accepts manifests that reference them.
      maintenance: {
        uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false },
        readonly: { enabled: false },
      },
    },
    http: {
      net: 'unix',
      addr: config.socketPath,
      draintimeout: `${config.drainTimeoutS}s`,
      secret: config.httpSecret,
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
    auth: {
      token: {
        realm: config.auth.realm,
        service: config.auth.service,
        issuer: config.auth.issuer,
        rootcertbundle: config.auth.rootCertBundle,
      },
    },
    notifications: {
      events: { includereferences: true },
      // No `ignore` section: berth records pulls too (a HEAD on a manifest counts as one).
      endpoints: [
        {
          name: 'berth',
          url: config.notifications.url,
          headers: { Authorization: [`Bearer ${config.notifications.secret}`] },
          timeout: '2s',
          threshold: 5,
          backoff: '1s',
        },
      ],
    },
  };
  return `${yamlLines(document, '').join('\n')}\n`;
}

type YamlScalar = string | number | boolean;
type YamlValue = YamlScalar | readonly YamlValue[] | YamlMap;
interface YamlMap {
  readonly [key: string]: YamlValue;
}

/** Block-style YAML for plain keys; every string is double-quoted (JSON string syntax is valid YAML). */
function yamlLines(map: YamlMap, indent: string): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(map)) {
    if (isScalar(value)) {
      lines.push(`${indent}${key}: ${scalar(value)}`);
    } else if (isList(value)) {
      if (value.every(isScalar)) {
        lines.push(`${indent}${key}: [${value.map(scalar).join(', ')}]`);
        continue;
      }
      lines.push(`${indent}${key}:`);
      for (const item of value) {
        if (isScalar(item) || isList(item)) throw new TypeError(`mixed YAML list under ${key}`);
        const [first = '', ...rest] = yamlLines(item, `${indent}    `);
        lines.push(`${indent}  - ${first.trimStart()}`, ...rest);
      }
    } else {
      lines.push(`${indent}${key}:`, ...yamlLines(value, `${indent}  `));
    }
  }
  return lines;
}

function isScalar(value: YamlValue): value is YamlScalar {
  return typeof value !== 'object';
}

function isList(value: YamlValue): value is readonly YamlValue[] {
  return Array.isArray(value);
}

function scalar(value: YamlScalar): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
