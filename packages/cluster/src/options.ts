import { randomBytes } from 'node:crypto';
import { ClusterError } from './errors.js';

export type Balance = 'roundrobin' | 'leastconn' | 'source';
export type LbMode = 'active-active' | 'active-passive';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** What each app server runs. The harness passes the topology to it in environment variables. */
export interface AppSpec {
  /** Program and arguments, e.g. `['node', 'dist/server.js']`. */
  readonly command: readonly string[];
  /** Extra environment on top of the harness's `HOST`, `PORT`, `SERVER_NAME`, `DB_*` variables. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Path the harness and HAProxy probe for readiness. Default `/readyz`. */
  readonly readyPath?: string;
  /**
   * Directory of static files that Nginx serves itself, without a round trip to the app: `index.html`
   * at `/` and everything under `assets/` at `/assets/`. Default: none (Nginx proxies everything).
   */
  readonly staticDir?: string;
  /**
   * Exact paths Nginx refuses with 404, so they stay reachable only on the app's own (internal)
   * address, never through the load balancer. Default `['/metrics']`.
   */
  readonly internalPaths?: readonly string[];
}

/** Everything `startCluster` accepts. Every field but `app` (with servers) is optional; defaults in the comments. */
export interface ClusterOptions {
  /** App servers (each Nginx + app) behind HAProxy, 0..2. 0 = database only, no LB. Default 2. */
  readonly servers?: number;
  /** MariaDB replicas, 0..3. Default 1. */
  readonly replicas?: number;
  /** HAProxy `balance`. Default `roundrobin`. */
  readonly balance?: Balance;
  /** `active-passive` makes server-2 an HAProxy `backup`. Default `active-active`. */
  readonly mode?: LbMode;
  /**
   * The app each server runs: required when `servers` > 0 (the harness ships none but `ECHO_APP`, a
   * dependency-free echo server for trying the topology). Ignored by a database-only cluster.
   */
  readonly app?: AppSpec;
  /** Preferred ports; a taken one is replaced by a free one on the same address. */
  readonly ports?: Partial<ClusterPorts>;
  /** Database and account names/passwords. Default: `app` database and generated passwords. */
  readonly credentials?: Partial<ClusterCredentialOptions>;
  /** Pin the address block `127.X.Y` (it must be free). Default: a random free block. */
  readonly block?: string;
  /** Parent of the state directory. Default: `$RWSPLIT_STATE_ROOT`, else the OS temp dir. */
  readonly stateRoot?: string;
  /** Keep the state directory after a successful stop. Default false (always kept after a failure). */
  readonly keepState?: boolean;
  /** Bound for each process to become ready. Default 30 000 ms. */
  readonly startTimeoutMs?: number;
  /**
   * Semi-synchronous replication on every node (a commit waits until a replica has it), so a failover
   * loses no acknowledged write. `true`, `false`, or the settings. Default: on when there is a replica,
   * with a 1000 ms fall-back to asynchronous replication.
   */
  readonly semiSync?: boolean | SemiSyncOptions;
  /**
   * Automatic failover: `@rwsplit/failover` managers (one per app server host, database-only clusters
   * included) watch the nodes and promote a replica when the primary dies. `true`, `false` (then only the
   * manual `promote()` fault changes the primary), or settings for the managers. Default: on when there is
   * a replica.
   */
  readonly failover?: boolean | FailoverOptions;
  /**
   * The name clients reach the load balancer by: the HTTP→HTTPS redirect goes there (never to the
   * request's own Host header) and the LB's certificate names it. A DNS name or an IP address. Default:
   * the LB's address.
   */
  readonly publicName?: string;
  /**
   * The monitoring host: Prometheus with the alert rules, Alertmanager, an alert receiver, mysqld and
   * blackbox exporters (`cluster.monitoring`). Default: on (`--no-monitoring` for `npm start`); a suite
   * that does not test it passes `false` and spares the machine its processes.
   */
  readonly monitoring?: boolean;
  /**
   * Where hosts live. `loopback`: each host its own 127.X.Y.Z of this machine (no root needed).
   * `netns` (root on Linux): each host its own network namespace on a lab bridge in 198.18.0.0/15, a
   * default-drop firewall per host, and two load balancers holding a floating address. Default `loopback`
   * (`npm start` as root picks `netns`).
   */
  readonly hosts?: HostKind;
  /**
   * What runs the programs. `native`: child processes of this one. `docker`: each program a container
   * (built locally from Debian's packages, started through testcontainers) on the host network, with the
   * loopback host model; a private Docker engine is installed and started when none answers. Default
   * `native`.
   */
  readonly runtime?: RuntimeKind;
}

export type HostKind = 'loopback' | 'netns';
export type RuntimeKind = 'native' | 'docker';

export interface SemiSyncOptions {
  /** How long a commit waits for a replica's acknowledgement before the primary falls back to async. Default 1000 ms. */
  readonly timeoutMs?: number;
  /** `'async'` (fall back after `timeoutMs`) or `'block'` (writes wait until a replica is back). Default `'async'`. */
  readonly whenNoAck?: 'async' | 'block';
}

/** Settings handed to each manager (see `@rwsplit/failover`'s `FailoverConfig`); the rest are its defaults. */
export interface FailoverOptions {
  /** How many managers, 1 or 2. Default 2. */
  readonly managers?: number;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly failAfter?: number;
  readonly cooldownMs?: number;
  readonly leaseMs?: number;
  readonly applyTimeoutMs?: number;
}

export interface ClusterPorts {
  readonly mariadb: number;
  readonly app: number;
  readonly nginx: number;
  readonly lbHttp: number;
  readonly lbHttps: number;
  readonly lbStats: number;
}

export interface ClusterCredentialOptions {
  readonly database: string;
  readonly app: Credentials;
  readonly admin: Credentials;
  readonly monitor: Credentials;
  readonly replication: Credentials;
  /** The failover managers' account. */
  readonly failover: Credentials;
  /** mysqld_exporter's account (unix socket only). */
  readonly exporter: Credentials;
  readonly stats: Credentials;
  /** Prometheus's and Alertmanager's UIs and APIs (basic auth). */
  readonly monitoring: Credentials;
}

export interface ResolvedOptions {
  readonly servers: number;
  readonly replicas: number;
  readonly balance: Balance;
  readonly mode: LbMode;
  /** Always set when `servers` > 0. */
  readonly app: AppSpec | undefined;
  readonly ports: ClusterPorts;
  readonly credentials: ClusterCredentialOptions;
  readonly block: string | undefined;
  readonly stateRoot: string | undefined;
  readonly keepState: boolean;
  readonly startTimeoutMs: number;
  readonly semiSync: { readonly timeoutMs: number; readonly whenNoAck: 'async' | 'block' } | undefined;
  /** Undefined: no managers. */
  readonly failover: (Omit<FailoverOptions, 'managers'> & { readonly managers: number }) | undefined;
  /** Undefined: the LB's address. */
  readonly publicName: string | undefined;
  readonly monitoring: boolean;
  readonly hosts: HostKind;
  readonly runtime: RuntimeKind;
}

export const DEFAULT_PORTS: ClusterPorts = {
  mariadb: 3306,
  app: 3000,
  nginx: 8080,
  lbHttp: 8080,
  lbHttps: 8443,
  lbStats: 8404,
};

const BALANCES: readonly Balance[] = ['roundrobin', 'leastconn', 'source'];
const MODES: readonly LbMode[] = ['active-active', 'active-passive'];
const RUNTIMES: readonly RuntimeKind[] = ['native', 'docker'];
const KNOWN = new Set([
  'servers',
  'replicas',
  'balance',
  'mode',
  'app',
  'ports',
  'credentials',
  'block',
  'stateRoot',
  'keepState',
  'startTimeoutMs',
  'semiSync',
  'failover',
  'publicName',
  'monitoring',
  'hosts',
  'runtime',
]);

const FAILOVER_KEYS = new Set([
  'managers',
  'intervalMs',
  'timeoutMs',
  'failAfter',
  'cooldownMs',
  'leaseMs',
  'applyTimeoutMs',
]);

function resolveSemiSync(value: unknown, replicas: number): ResolvedOptions['semiSync'] {
  if (value === false || (value === undefined && replicas === 0)) return undefined;
  if (value !== undefined && value !== true && (typeof value !== 'object' || value === null)) {
    invalid('semiSync', `expected a boolean or an object, got ${JSON.stringify(value)}`);
  }
  const given = (typeof value === 'object' ? value : {}) as SemiSyncOptions;
  for (const key of Object.keys(given))
    if (key !== 'timeoutMs' && key !== 'whenNoAck') invalid(`semiSync.${key}`, 'unknown option');
  return {
    timeoutMs: integerIn('semiSync.timeoutMs', given.timeoutMs, 1, 3_600_000, 1_000),
    whenNoAck: oneOf('semiSync.whenNoAck', given.whenNoAck, ['async', 'block'] as const, 'async'),
  };
}

function resolveFailover(value: unknown, replicas: number): ResolvedOptions['failover'] {
  if (value === false || (value === undefined && replicas === 0)) return undefined;
  if (replicas === 0) invalid('failover', 'needs at least one replica to promote');
  if (value !== undefined && value !== true && (typeof value !== 'object' || value === null)) {
    invalid('failover', `expected a boolean or an object, got ${JSON.stringify(value)}`);
  }
  const given = (typeof value === 'object' ? value : {}) as FailoverOptions;
  for (const key of Object.keys(given)) {
    if (!FAILOVER_KEYS.has(key))
      invalid(`failover.${key}`, `unknown option; known: ${[...FAILOVER_KEYS].join(', ')}`);
  }
  const { managers, ...rest } = given;
  for (const [key, number] of Object.entries(rest)) integerIn(`failover.${key}`, number, 0, 3_600_000, 0);
  return { ...rest, managers: integerIn('failover.managers', managers, 1, 2, 2) };
}

/** Rendered into HAProxy's redirect and the certificate: a plain host name or address, nothing else. */
function resolvePublicName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'string' ||
    !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(
      value,
    )
  ) {
    invalid(
      'publicName',
      `expected a DNS name or an IPv4 address such as "rwsplit.example", got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function invalid(option: string, message: string): never {
  throw new ClusterError(`invalid cluster option ${option}: ${message}`, 'CLUSTER_INVALID_OPTION');
}

function integerIn(option: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(option, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    invalid(option, `expected one of ${allowed.join(' | ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** 144 random bits, in characters that need no quoting in SQL or HAProxy's config. */
export function randomSecret(): string {
  return randomBytes(18).toString('base64url');
}

function credentials(option: string, given: Credentials | undefined, user: string): Credentials {
  if (given === undefined) return { user, password: randomSecret() };
  if (typeof given.user !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(given.user)) {
    invalid(`${option}.user`, 'expected 1-32 letters, digits or underscores');
  }
  // Passwords go into SQL and HAProxy config text; keep them to characters that need no quoting.
  if (typeof given.password !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(given.password)) {
    invalid(`${option}.password`, 'expected 1-64 letters, digits or _ . -');
  }
  return given;
}

/** Validates options once, names the offending option, and fills in the defaults. */
export function resolveOptions(options: ClusterOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) invalid('options', 'expected an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) invalid(key, `unknown option; known options are ${[...KNOWN].join(', ')}`);
  }
  const servers = integerIn('servers', options.servers, 0, 2, 2);
  const mode = oneOf('mode', options.mode, MODES, 'active-active');
  if (mode === 'active-passive' && servers < 2) invalid('mode', 'active-passive needs servers: 2');
  const app = options.app;
  if (
    app !== undefined &&
    (typeof app !== 'object' || app === null || !Array.isArray(app.command) || app.command.length === 0)
  ) {
    invalid('app.command', 'expected a non-empty array such as ["node", "server.js"]');
  }
  // Both are rendered into nginx.conf: only plain absolute paths, so nothing can change the config's
  // meaning ($ would be a variable, ; { } # syntax, a space a second argument).
  const internalPaths = app?.internalPaths ?? [];
  for (const path of internalPaths) {
    if (typeof path !== 'string' || !/^\/[\w.-][\w./-]*$/.test(path)) {
      invalid('app.internalPaths', `expected paths like "/metrics" (not "/"), got ${JSON.stringify(path)}`);
    }
  }
  if (new Set(internalPaths).size !== internalPaths.length)
    invalid('app.internalPaths', 'lists a path twice');
  if (
    app?.staticDir !== undefined &&
    (typeof app.staticDir !== 'string' || !/^\/[\w./-]*$/.test(app.staticDir))
  ) {
    invalid('app.staticDir', 'expected an absolute directory path of letters, digits, and . _ - /');
  }
  const ports = { ...DEFAULT_PORTS };
  for (const [name, value] of Object.entries(options.ports ?? {})) {
    if (!(name in DEFAULT_PORTS))
      invalid(`ports.${name}`, `unknown port; known: ${Object.keys(DEFAULT_PORTS)}`);
    (ports as Record<string, number>)[name] = integerIn(`ports.${name}`, value, 1024, 65535, 0);
  }
  const given = options.credentials ?? {};
  const database = given.database ?? 'app';
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) {
    invalid('credentials.database', 'expected 1-64 letters, digits or underscores');
  }
  if (options.block !== undefined && !/^127\.\d{1,3}\.\d{1,3}$/.test(options.block)) {
    invalid('block', `expected "127.X.Y", got ${JSON.stringify(options.block)}`);
  }
  const replicas = integerIn('replicas', options.replicas, 0, 3, 1);
  if (options.hosts !== undefined && options.hosts !== 'loopback' && options.hosts !== 'netns') {
    invalid('hosts', `expected loopback | netns, got ${JSON.stringify(options.hosts)}`);
  }
  if (options.hosts === 'netns' && (process.platform !== 'linux' || process.getuid?.() !== 0)) {
    invalid('hosts', 'netns needs root on Linux (network namespaces, nftables); use loopback');
  }
  const runtime = oneOf('runtime', options.runtime, RUNTIMES, 'native');
  if (runtime === 'docker' && options.hosts === 'netns') {
    invalid(
      'runtime',
      "docker runs containers on the host network with each host on its own loopback address; netns hosts run natively (use hosts: 'loopback')",
    );
  }
  if (options.monitoring !== undefined && typeof options.monitoring !== 'boolean') {
    invalid('monitoring', `expected a boolean, got ${JSON.stringify(options.monitoring)}`);
  }
  const stateRoot = options.stateRoot ?? process.env.RWSPLIT_STATE_ROOT;
  // Its paths are rendered into SQL (MASTER_SSL_CA), my.cnf, nginx.conf and haproxy.cfg: nothing that
  // could end a quoted string or a setting there.
  if (stateRoot !== undefined && (typeof stateRoot !== 'string' || !/^\/[\w./+@=,-]*$/.test(stateRoot))) {
    invalid(
      'stateRoot',
      `expected an absolute path of letters, digits and . _ - / + @ = , (also RWSPLIT_STATE_ROOT), got ${JSON.stringify(stateRoot)}`,
    );
  }
  const resolved: ResolvedOptions = {
    servers,
    replicas,
    balance: oneOf('balance', options.balance, BALANCES, 'roundrobin'),
    mode,
    app,
    ports,
    credentials: {
      database,
      app: credentials('credentials.app', given.app, 'app'),
      admin: credentials('credentials.admin', given.admin, 'rwsplit_admin'),
      monitor: credentials('credentials.monitor', given.monitor, 'rwsplit_monitor'),
      replication: credentials('credentials.replication', given.replication, 'rwsplit_repl'),
      failover: credentials('credentials.failover', given.failover, 'rwsplit_failover'),
      exporter: credentials('credentials.exporter', given.exporter, 'rwsplit_exporter'),
      stats: credentials('credentials.stats', given.stats, 'admin'),
      monitoring: credentials('credentials.monitoring', given.monitoring, 'monitoring'),
    },
    block: options.block,
    stateRoot,
    keepState: options.keepState ?? false,
    startTimeoutMs: integerIn('startTimeoutMs', options.startTimeoutMs, 1_000, 600_000, 30_000),
    semiSync: resolveSemiSync(options.semiSync, replicas),
    failover: resolveFailover(options.failover, replicas),
    publicName: resolvePublicName(options.publicName),
    monitoring: options.monitoring ?? true,
    hosts: options.hosts ?? 'loopback',
    runtime,
  };
  // Checked after every other option, so a wrong value elsewhere is named first.
  if (servers > 0 && app === undefined) {
    invalid(
      'app',
      `required with servers: ${servers}${options.servers === undefined ? ' (the default)' : ''}; pass the AppSpec each server runs ({ command, cwd, env, staticDir, internalPaths }; ECHO_APP is a dependency-free one), or servers: 0 for a database-only cluster`,
    );
  }
  return Object.freeze(resolved);
}
