import { readFileSync } from 'node:fs';
import { FailoverError, invalidOption } from './errors.js';

/** One database node the manager watches. */
export interface NodeConfig {
  /** Unique name, as in logs, metrics and the CLI (`db-replica-1`). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Never promote this node (a delayed replica, a backup host, a smaller machine). Default: `false`. */
  readonly neverPromote?: boolean;
}

/** One failover manager, this one included: the managers vote alongside the database nodes. */
export interface ManagerConfig {
  readonly id: string;
  /** Where its API listens (`https://10.0.1.11:7301`; `http:` without TLS): votes, status, metrics, commands. */
  readonly url: string;
}

/** Semi-synchronous replication: a commit is acknowledged only after a replica has it. */
export interface SemiSyncConfig {
  /** Default: `true`. Off: asynchronous replication, and a failover may lose the writes in flight. */
  readonly enabled?: boolean;
  /**
   * What the primary does when no replica acknowledges within `timeoutMs`: `'async'` falls back to
   * asynchronous replication (writes go on; `rwsplit_failover_semisync_active` drops to 0 until a replica
   * catches up, and a failover meanwhile may lose writes), `'block'` keeps writes waiting until a replica
   * is back (no write is ever at risk, none succeeds either). Default: `'async'`.
   */
  readonly whenNoAck?: 'async' | 'block';
  /** How long a commit waits for an acknowledgement with `whenNoAck: 'async'`. Default: `1000` ms. */
  readonly timeoutMs?: number;
}

export interface FailoverConfig {
  /** This manager's id: one of `managers`. */
  readonly id: string;
  /** Every manager, this one included (usually one per app server host). */
  readonly managers: readonly ManagerConfig[];
  /** Every database node, primary and replicas. The roles are discovered, not configured. */
  readonly nodes: readonly NodeConfig[];
  /** The account the manager uses on every node: replication admin, read_only admin, process. */
  readonly user: string;
  readonly password: string;
  /** The account replicas use to pull the binlog (goes into CHANGE MASTER / CHANGE REPLICATION SOURCE). */
  readonly replication: { readonly user: string; readonly password: string };
  /** Shared secret between managers and for commands (sent as a bearer token). Default: none. */
  readonly token?: string;
  /** How often every node is probed. Default: `250` ms. */
  readonly intervalMs?: number;
  /** Bound on one probe (connect + queries). Default: `500` ms. */
  readonly timeoutMs?: number;
  /** Consecutive failed probes of the primary before it may be declared down. Default: `3`. */
  readonly failAfter?: number;
  /** After a failover, no automatic one before this has passed. Default: `60000` ms. */
  readonly cooldownMs?: number;
  /** Bound on the chosen replica applying its relay log before promotion. Default: `10000` ms. */
  readonly applyTimeoutMs?: number;
  /**
   * How long a leader's hold on a node (its lock) and a peer manager's vote outlive the last renewal.
   * Default: `2000` ms (whole seconds on the server: rounded up).
   */
  readonly leaseMs?: number;
  /** Replicas' heartbeat from the primary, so a silent primary is noticed by them too. Default: `500` ms. */
  readonly heartbeatMs?: number;
  readonly semiSync?: SemiSyncConfig;
  /** Programs for `rejoin --rebuild`. Default: `mariadb-dump` and `mariadb` from PATH. */
  readonly rebuild?: { readonly dumpCommand?: string; readonly clientCommand?: string };
  /**
   * TLS to the nodes and between them. With it, the manager verifies every node's certificate (chain
   * and address) and points replicas at their source over TLS, verifying the source's certificate too.
   * Default: none (plain connections; a node that requires TLS refuses them).
   */
  readonly tls?: TlsConfig;
  /**
   * This manager's API certificate, for an `https:` URL in `managers` (required then). Peers and the CLI
   * check a manager's certificate against `tls.ca` when it is set, else against the system's CAs.
   * Default: none.
   */
  readonly api?: ApiTlsConfig;
}

export interface ApiTlsConfig {
  /** Path of the certificate (PEM) naming this manager's API address. */
  readonly certificate: string;
  /** Path of its private key (PEM); keep it 0600. */
  readonly key: string;
}

export interface TlsConfig {
  /**
   * Path of the CA certificate (PEM) that issued the nodes' certificates. The manager reads it, and
   * replicas are told the same path (`MASTER_SSL_CA`): keep it at that path on every database host.
   */
  readonly ca: string;
}

export interface ResolvedConfig {
  readonly id: string;
  readonly managers: readonly ManagerConfig[];
  readonly nodes: readonly Required<NodeConfig>[];
  readonly user: string;
  readonly password: string;
  readonly replication: { readonly user: string; readonly password: string };
  readonly token: string | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failAfter: number;
  readonly cooldownMs: number;
  readonly applyTimeoutMs: number;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly semiSync: Required<SemiSyncConfig>;
  readonly rebuild: { readonly dumpCommand: string; readonly clientCommand: string };
  /** With the CA's contents, read once at start. */
  readonly tls: { readonly caFile: string; readonly caPem: string } | undefined;
  /** The API's certificate and key, read once at start; undefined: plain HTTP. */
  readonly api: { readonly certificatePem: string; readonly keyPem: string } | undefined;
}

export const DEFAULTS = Object.freeze({
  intervalMs: 250,
  timeoutMs: 500,
  failAfter: 3,
  cooldownMs: 60_000,
  applyTimeoutMs: 10_000,
  leaseMs: 2_000,
  heartbeatMs: 500,
  semiSync: Object.freeze({ enabled: true, whenNoAck: 'async' as const, timeoutMs: 1_000 }),
});

const TOP_LEVEL = new Set([
  'id',
  'managers',
  'nodes',
  'user',
  'password',
  'replication',
  'token',
  'intervalMs',
  'timeoutMs',
  'failAfter',
  'cooldownMs',
  'applyTimeoutMs',
  'leaseMs',
  'heartbeatMs',
  'semiSync',
  'rebuild',
  'tls',
  'api',
]);

type Bag = Readonly<Record<string, unknown>>;

function object(value: unknown, path: string): Bag {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, `expected an object, got ${shown(value)}`);
  }
  return value as Bag;
}

function known(value: Bag, keys: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.has(key))
      throw invalidOption(at(path, key), `unknown setting (known: ${[...keys].join(', ')})`);
  }
}

function at(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '')
    throw invalidOption(path, `expected a non-empty string, got ${shown(value)}`);
  return value;
}

function whole(
  value: unknown,
  path: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(path, `expected an integer ${min}..${max}, got ${shown(value)}`);
  }
  return value;
}

function required(value: unknown, path: string, min: number, max: number): number {
  if (value === undefined) throw invalidOption(path, `required: an integer ${min}..${max}`);
  return whole(value, path, min, min, max);
}

function list(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value) || value.length === 0)
    throw invalidOption(path, `expected a non-empty array, got ${shown(value)}`);
  return value;
}

function resolveNode(raw: unknown, path: string): Required<NodeConfig> {
  const node = object(raw, path);
  known(node, new Set(['name', 'host', 'port', 'neverPromote']), path);
  const neverPromote = node.neverPromote ?? false;
  if (typeof neverPromote !== 'boolean')
    throw invalidOption(at(path, 'neverPromote'), `expected a boolean, got ${shown(neverPromote)}`);
  return {
    name: text(node.name, at(path, 'name')),
    host: text(node.host, at(path, 'host')),
    port: required(node.port, at(path, 'port'), 1, 65_535),
    neverPromote,
  };
}

function resolveManager(raw: unknown, path: string): ManagerConfig {
  const manager = object(raw, path);
  known(manager, new Set(['id', 'url']), path);
  const url = text(manager.url, at(path, 'url'));
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw invalidOption(at(path, 'url'), `expected an http(s) URL, got ${shown(url)}`);
  }
  return { id: text(manager.id, at(path, 'id')), url: url.replace(/\/+$/, '') };
}

function unique(values: readonly string[], path: string, what: string): void {
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) throw invalidOption(path, `${what} ${JSON.stringify(value)} appears twice`);
    seen.add(value);
  }
}

/** Checks a configuration and fills in the defaults; a bad setting is a `FAILOVER_INVALID_OPTION` naming it. */
export function resolveConfig(raw: unknown): ResolvedConfig {
  const config = object(raw, 'config');
  known(config, TOP_LEVEL, '');
  const nodes = list(config.nodes, 'nodes').map((node, i) => resolveNode(node, `nodes[${i}]`));
  if (nodes.length < 2) throw invalidOption('nodes', 'a failover needs at least a primary and one replica');
  unique(
    nodes.map((node) => node.name),
    'nodes',
    'node name',
  );
  unique(
    nodes.map((node) => `${node.host}:${node.port}`),
    'nodes',
    'address',
  );
  const managers = list(config.managers, 'managers').map((m, i) => resolveManager(m, `managers[${i}]`));
  unique(
    managers.map((m) => m.id),
    'managers',
    'manager id',
  );
  const id = text(config.id, 'id');
  if (!managers.some((manager) => manager.id === id)) {
    throw invalidOption(
      'id',
      `${JSON.stringify(id)} is not one of managers[].id (${managers.map((m) => m.id).join(', ')})`,
    );
  }
  const replication = object(config.replication, 'replication');
  known(replication, new Set(['user', 'password']), 'replication');
  if (typeof config.password !== 'string')
    throw invalidOption('password', `expected a string, got ${shown(config.password)}`);
  if (typeof replication.password !== 'string') {
    throw invalidOption('replication.password', `expected a string, got ${shown(replication.password)}`);
  }
  if (config.token !== undefined && (typeof config.token !== 'string' || config.token.length < 16)) {
    throw invalidOption('token', 'expected a string of at least 16 characters');
  }
  const semi = config.semiSync === undefined ? {} : object(config.semiSync, 'semiSync');
  known(semi, new Set(['enabled', 'whenNoAck', 'timeoutMs']), 'semiSync');
  const enabled = semi.enabled ?? DEFAULTS.semiSync.enabled;
  if (typeof enabled !== 'boolean')
    throw invalidOption('semiSync.enabled', `expected a boolean, got ${shown(enabled)}`);
  const whenNoAck = semi.whenNoAck ?? DEFAULTS.semiSync.whenNoAck;
  if (whenNoAck !== 'async' && whenNoAck !== 'block') {
    throw invalidOption('semiSync.whenNoAck', `expected 'async' or 'block', got ${shown(whenNoAck)}`);
  }
  const tls = resolveTls(config.tls);
  const rebuild = config.rebuild === undefined ? {} : object(config.rebuild, 'rebuild');
  known(rebuild, new Set(['dumpCommand', 'clientCommand']), 'rebuild');
  const intervalMs = whole(config.intervalMs, 'intervalMs', DEFAULTS.intervalMs, 10);
  const leaseMs = whole(config.leaseMs, 'leaseMs', DEFAULTS.leaseMs, 1_000);
  if (leaseMs < 2 * intervalMs) {
    throw invalidOption(
      'leaseMs',
      `must be at least two probe intervals (${2 * intervalMs} ms), got ${leaseMs}`,
    );
  }
  return Object.freeze<ResolvedConfig>({
    id,
    managers,
    nodes,
    user: text(config.user, 'user'),
    password: config.password,
    replication: { user: text(replication.user, 'replication.user'), password: replication.password },
    token: config.token as string | undefined,
    intervalMs,
    timeoutMs: whole(config.timeoutMs, 'timeoutMs', DEFAULTS.timeoutMs, 10),
    failAfter: whole(config.failAfter, 'failAfter', DEFAULTS.failAfter, 1),
    cooldownMs: whole(config.cooldownMs, 'cooldownMs', DEFAULTS.cooldownMs, 0),
    applyTimeoutMs: whole(config.applyTimeoutMs, 'applyTimeoutMs', DEFAULTS.applyTimeoutMs, 1),
    leaseMs,
    heartbeatMs: whole(config.heartbeatMs, 'heartbeatMs', DEFAULTS.heartbeatMs, 100),
    semiSync: {
      enabled,
      whenNoAck,
      timeoutMs: whole(semi.timeoutMs, 'semiSync.timeoutMs', DEFAULTS.semiSync.timeoutMs, 1),
    },
    rebuild: {
      dumpCommand:
        rebuild.dumpCommand === undefined ? 'mariadb-dump' : text(rebuild.dumpCommand, 'rebuild.dumpCommand'),
      clientCommand:
        rebuild.clientCommand === undefined
          ? 'mariadb'
          : text(rebuild.clientCommand, 'rebuild.clientCommand'),
    },
    tls,
    api: resolveApi(config.api, managers.find((m) => m.id === id)!),
  });
}

/** The API's certificate: required for an `https:` URL of this manager, refused for an `http:` one. */
function resolveApi(value: unknown, self: ManagerConfig): ResolvedConfig['api'] {
  const secure = self.url.startsWith('https:');
  if (value === undefined) {
    if (secure) throw invalidOption('api', `${self.url} is https: give api.certificate and api.key`);
    return undefined;
  }
  if (!secure) throw invalidOption('api', `${self.url} is plain http: drop api or make the URL https:`);
  const api = object(value, 'api');
  known(api, new Set(['certificate', 'key']), 'api');
  const read = (key: 'certificate' | 'key', marker: string) => {
    const path = text(api[key], `api.${key}`);
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (error) {
      throw invalidOption(`api.${key}`, `cannot read ${path}: ${(error as Error).message}`);
    }
    if (!pem.includes(marker)) throw invalidOption(`api.${key}`, `${path} holds no PEM ${key}`);
    return pem;
  };
  return {
    certificatePem: read('certificate', '-----BEGIN CERTIFICATE-----'),
    keyPem: read('key', 'PRIVATE KEY-----'),
  };
}

function resolveTls(value: unknown): ResolvedConfig['tls'] {
  if (value === undefined) return undefined;
  const tls = object(value, 'tls');
  known(tls, new Set(['ca']), 'tls');
  const caFile = text(tls.ca, 'tls.ca');
  let caPem: string;
  try {
    caPem = readFileSync(caFile, 'utf8');
  } catch (error) {
    throw invalidOption('tls.ca', `cannot read ${caFile}: ${(error as Error).message}`);
  }
  if (!caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw invalidOption('tls.ca', `${caFile} holds no PEM certificate`);
  }
  return { caFile, caPem };
}

/** How many voters make a quorum: more than half of the database nodes and managers together. */
export function quorumOf(config: Pick<ResolvedConfig, 'nodes' | 'managers'>): number {
  return Math.floor((config.nodes.length + config.managers.length) / 2) + 1;
}

export { FailoverError };
