// The inventory `rwsplit-cluster render` reads: which real hosts run which part of the topology. It names
// accounts and the paths of secret files, never a secret: those files are the operator's to create.
import { ClusterError } from '../errors.js';
import type { Balance, LbMode } from '../options.js';

export type HostRole = 'lb' | 'server' | 'db' | 'monitoring';
export type DbFlavor = 'mariadb' | 'mysql';
export type DbReplicationRole = 'primary' | 'replica';

/** The database accounts, by name only (their passwords live in the secret files). */
export interface Accounts {
  /** Default `app`. */
  readonly app: string;
  /** The router's topology monitor. Default `rwsplit_monitor`. */
  readonly monitor: string;
  /** Default `rwsplit_repl`. */
  readonly replication: string;
  /** The failover managers'. Default `rwsplit_failover`. */
  readonly failover: string;
  /** mysqld_exporter's (unix socket only). Default `rwsplit_exporter`. */
  readonly exporter: string;
  /** HAProxy's stats page. Default `admin`. */
  readonly stats: string;
  /** Prometheus's and Alertmanager's basic auth. Default `monitoring`. */
  readonly monitoring: string;
}

export interface ClusterSettings {
  /** The name clients use (the redirect's target; the LB certificate names it). Required. */
  readonly publicName: string;
  /** Default `mariadb`. */
  readonly flavor: DbFlavor;
  /** The app's database. Default `app`. */
  readonly database: string;
  readonly accounts: Accounts;
  /**
   * TLS between tiers: the CA that issued every host's certificate, and where each host keeps its own
   * certificate and key (the same paths on every host). Defaults `/etc/rwsplit/tls/{ca.pem,host.pem,host.key}`.
   */
  readonly tls: { readonly ca: string; readonly certificate: string; readonly key: string };
  /** Where the operator puts the secret files on each host. Default `/etc/rwsplit/secrets`. */
  readonly secretsDir: string;
  /** Addresses or CIDR blocks that may reach SSH and the monitoring UIs. Required, non-empty. */
  readonly adminSources: readonly string[];
  /** Undefined: asynchronous replication. Default on (1000 ms, `async`) with a replica. */
  readonly semiSync: { readonly timeoutMs: number; readonly whenNoAck: 'async' | 'block' } | undefined;
}

export interface LbSettings {
  /**
   * HAProxy's certificate and key in one PEM, on each LB host. Required with an LB. It must name the
   * public name and each LB's own address (the monitoring host scrapes the stats listener by address),
   * and chain to a CA in `cluster.tls.ca` (a file that may hold several CA certificates).
   */
  readonly certificate: string;
  /** Required with two LBs: the address keepalived moves between them. */
  readonly floatingAddress: string | undefined;
  /** Default 24. */
  readonly prefixLength: number;
  /** Default `eth0`. */
  readonly interface: string;
  /** VRRP's id, unique on the link. Default 51. */
  readonly virtualRouterId: number;
  /** Defaults 80, 443, 8404 (stats and metrics, on each LB's own address). */
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly statsPort: number;
  /** The node exporter that publishes keepalived's state on each LB of a pair. Default 9100. */
  readonly vrrpExporterPort: number;
  /** Default `roundrobin`. */
  readonly balance: Balance;
  /** Default `active-active`; `active-passive` makes every server after the first a backup. */
  readonly mode: LbMode;
}

export interface ServerSpec {
  /** The app's port on the host's address. Required. */
  readonly appPort: number;
  /** Program and arguments (an absolute program path). Required. */
  readonly command: readonly string[];
  /** Default: none (systemd's). */
  readonly workingDirectory: string | undefined;
  /** The app's (dynamic) user. Default `rwsplit-app`. */
  readonly user: string;
  /** Extra environment for the app, no secrets (those go in `<secretsDir>/app.env`). Default `{}`. */
  readonly env: Readonly<Record<string, string>>;
  /** Files Nginx serves itself (`index.html`, `assets/`). Default: none. */
  readonly staticDir: string | undefined;
  /** Paths Nginx refuses, reachable on the app's own address only. Default `['/metrics']`. */
  readonly internalPaths: readonly string[];
  /** Default `/readyz`. */
  readonly readyPath: string;
  /** Defaults 8080, 8081 (stub_status), 9113 (nginx exporter). */
  readonly nginxPort: number;
  readonly nginxStatusPort: number;
  readonly nginxExporterPort: number;
  /** Runs a failover manager (when failover is on). Default true. */
  readonly failoverManager: boolean;
}

export interface DbSpec {
  readonly role: DbReplicationRole;
  /** Unique, 1..4294967295. Required. */
  readonly serverId: number;
  /** Default 3306. */
  readonly port: number;
  /** mysqld_exporter beside the node. Default 9104. */
  readonly exporterPort: number;
  /** The failover managers never promote it. Default false. */
  readonly neverPromote: boolean;
}

export interface InventoryHost {
  /** Lower-case letters, digits and `-`: a directory, a Prometheus instance and a manager id. */
  readonly name: string;
  readonly address: string;
  readonly roles: readonly HostRole[];
  readonly server: ServerSpec | undefined;
  readonly db: DbSpec | undefined;
  /** Its keepalived priority (the pair's first election). Default 254 for the first LB, 253 the second. */
  readonly lbPriority: number | undefined;
}

export interface FailoverSettings {
  /** The `rwsplit-failover` program. Default `["/usr/local/bin/rwsplit-failover"]`. */
  readonly command: readonly string[];
  /** Node, which runs the config assembler before each start. Default `/usr/bin/node`. */
  readonly node: string;
  /** Its HTTPS API on each server host. Default 7301. */
  readonly port: number;
  /** Passed to every manager as they are (see `@rwsplit/failover`'s `FailoverConfig`): its defaults otherwise. */
  readonly settings: Readonly<Record<string, number>>;
}

export interface MonitoringSettings {
  /** Where Alertmanager delivers every alert (a webhook). Required with a monitoring host. */
  readonly webhookUrl: string;
  /** Default `15s`. */
  readonly scrapeInterval: string;
  /** Defaults 9090, 9093, 9115 (blackbox, local only), 9100 (node exporter). */
  readonly prometheusPort: number;
  readonly alertmanagerPort: number;
  readonly blackboxPort: number;
  readonly nodeExporterPort: number;
}

/** Where things go on the hosts, where an operator may want them elsewhere. */
export interface HostPaths {
  /** Defaults as Debian has them. */
  readonly haproxyConfig: string;
  readonly keepalivedConfig: string;
  readonly nginxConfig: string;
  readonly mysqlConfig: string;
  readonly datadir: string;
  readonly prometheusDir: string;
  readonly prometheusData: string;
  readonly alertmanagerData: string;
  /** The node exporter's textfile directory (keepalived's state on the LBs). */
  readonly textfileDir: string;
  readonly failoverDir: string;
}

export interface Inventory {
  readonly cluster: ClusterSettings;
  readonly hosts: readonly InventoryHost[];
  /** Undefined without an LB host. */
  readonly lb: LbSettings | undefined;
  /** Undefined when off (no replica, `cluster.failover: false`, or no server runs a manager). */
  readonly failover: FailoverSettings | undefined;
  /** Undefined without a monitoring host. */
  readonly monitoring: MonitoringSettings | undefined;
  readonly paths: HostPaths;
}

/** An inventory that cannot be rendered; `field` is the path of the offending value (`hosts[2].address`). */
export class InventoryError extends ClusterError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`, 'CLUSTER_INVALID_OPTION');
  }
}

type Bag = Readonly<Record<string, unknown>>;

const ROLES: readonly HostRole[] = ['lb', 'server', 'db', 'monitoring'];
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const ACCOUNT = /^[A-Za-z0-9_]{1,32}$/;
// Rendered into my.cnf, nginx.conf, haproxy.cfg, units and SQL: nothing that ends a string or a setting.
const PATH = /^\/[\w./+@=,-]*$/;
const URL_PATH = /^\/[\w.-][\w./-]*$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
// A unit's Environment= line and a command line: no quotes, backslashes, `%`, `$` or control characters.
const PLAIN_WORD = /^[^\s"'\\%$`;]+$/;
const PLAIN_VALUE = /^[^"'\\%$`\n\r]*$/;

const DEFAULT_PATHS: HostPaths = {
  haproxyConfig: '/etc/haproxy/haproxy.cfg',
  keepalivedConfig: '/etc/keepalived/keepalived.conf',
  nginxConfig: '/etc/nginx/nginx.conf',
  mysqlConfig: '/etc/mysql/my.cnf',
  datadir: '/var/lib/mysql',
  prometheusDir: '/etc/prometheus',
  prometheusData: '/var/lib/prometheus/metrics2',
  alertmanagerData: '/var/lib/prometheus/alertmanager',
  textfileDir: '/var/lib/prometheus/node-exporter',
  failoverDir: '/etc/rwsplit/failover',
};

export const DEFAULT_ACCOUNTS: Accounts = {
  app: 'app',
  monitor: 'rwsplit_monitor',
  replication: 'rwsplit_repl',
  failover: 'rwsplit_failover',
  exporter: 'rwsplit_exporter',
  stats: 'admin',
  monitoring: 'monitoring',
};

const FAILOVER_NUMBERS = ['intervalMs', 'timeoutMs', 'failAfter', 'cooldownMs', 'leaseMs', 'applyTimeoutMs'];

function fail(field: string, problem: string): never {
  throw new InventoryError(field, problem);
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}

function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

/** An object with only `keys`; `undefined` stands for an absent optional block. */
function object(value: unknown, path: string, keys: readonly string[]): Bag {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path || 'inventory', `expected an object, got ${shown(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(at(path, key), `unknown setting; known: ${keys.join(', ')}`);
  }
  return value as Bag;
}

function optionalObject(value: unknown, path: string, keys: readonly string[]): Bag {
  return value === undefined ? {} : object(value, path, keys);
}

function text(value: unknown, path: string, pattern: RegExp, expected: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !pattern.test(value))
    fail(path, `expected ${expected}, got ${shown(value)}`);
  return value;
}

function integer(value: unknown, path: string, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `expected an integer from ${min} to ${max}, got ${shown(value)}`);
  }
  return value;
}

function port(value: unknown, path: string, fallback?: number): number {
  return integer(value, path, 1, 65_535, fallback);
}

function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, `expected true or false, got ${shown(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!allowed.includes(value as T))
    fail(path, `expected one of ${allowed.join(' | ')}, got ${shown(value)}`);
  return value as T;
}

function filePath(value: unknown, path: string, fallback?: string): string {
  return text(value, path, PATH, 'an absolute path of letters, digits and . _ - / + @ = ,', fallback);
}

export function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255);
}

function ipv4(value: unknown, path: string): string {
  if (typeof value !== 'string' || !isIpv4(value)) {
    fail(path, `expected an IPv4 address such as "198.18.10.21", got ${shown(value)}`);
  }
  return value;
}

function source(value: unknown, path: string): string {
  const [address, prefix, extra] = typeof value === 'string' ? value.split('/') : [];
  const prefixOk = prefix === undefined || (/^\d{1,2}$/.test(prefix) && Number(prefix) <= 32);
  if (extra !== undefined || address === undefined || !isIpv4(address) || !prefixOk) {
    fail(path, `expected an IPv4 address or CIDR block such as "198.18.0.0/24", got ${shown(value)}`);
  }
  return value as string;
}

function list(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value) || value.length === 0)
    fail(path, `expected a non-empty array, got ${shown(value)}`);
  return value;
}

function command(value: unknown, path: string, fallback?: readonly string[]): readonly string[] {
  if (value === undefined && fallback !== undefined) return fallback;
  const words = list(value, path).map((word, i) =>
    text(word, at(path, i), PLAIN_WORD, 'a word without spaces, quotes, %, $ or ;'),
  );
  filePath(words[0], at(path, 0));
  return words;
}

function resolveAccounts(value: unknown): Accounts {
  const given = optionalObject(value, 'cluster.accounts', Object.keys(DEFAULT_ACCOUNTS));
  const accounts: Record<string, string> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_ACCOUNTS)) {
    accounts[key] = text(
      given[key],
      `cluster.accounts.${key}`,
      ACCOUNT,
      '1-32 letters, digits or _',
      fallback,
    );
  }
  return accounts as unknown as Accounts;
}

function resolveSemiSync(value: unknown): ClusterSettings['semiSync'] {
  if (value === false) return undefined;
  const given =
    value === undefined || value === true
      ? {}
      : object(value, 'cluster.semiSync', ['timeoutMs', 'whenNoAck']);
  return {
    timeoutMs: integer(given.timeoutMs, 'cluster.semiSync.timeoutMs', 1, 3_600_000, 1_000),
    whenNoAck: oneOf(given.whenNoAck, 'cluster.semiSync.whenNoAck', ['async', 'block'] as const, 'async'),
  };
}

function resolveCluster(value: unknown): ClusterSettings & { readonly failoverGiven: unknown } {
  const given = object(value, 'cluster', [
    'publicName',
    'flavor',
    'database',
    'accounts',
    'tls',
    'secretsDir',
    'adminSources',
    'semiSync',
    'failover',
  ]);
  const tls = optionalObject(given.tls, 'cluster.tls', ['ca', 'certificate', 'key']);
  return {
    publicName: text(
      given.publicName,
      'cluster.publicName',
      DNS_NAME,
      'a DNS name or IPv4 address such as "rwsplit.example.com"',
    ),
    flavor: oneOf(given.flavor, 'cluster.flavor', ['mariadb', 'mysql'] as const, 'mariadb'),
    database: text(
      given.database,
      'cluster.database',
      /^[A-Za-z0-9_]{1,64}$/,
      '1-64 letters, digits or _',
      'app',
    ),
    accounts: resolveAccounts(given.accounts),
    tls: {
      ca: filePath(tls.ca, 'cluster.tls.ca', '/etc/rwsplit/tls/ca.pem'),
      certificate: filePath(tls.certificate, 'cluster.tls.certificate', '/etc/rwsplit/tls/host.pem'),
      key: filePath(tls.key, 'cluster.tls.key', '/etc/rwsplit/tls/host.key'),
    },
    secretsDir: filePath(given.secretsDir, 'cluster.secretsDir', '/etc/rwsplit/secrets'),
    adminSources: list(given.adminSources, 'cluster.adminSources').map((s, i) =>
      source(s, `cluster.adminSources[${i}]`),
    ),
    semiSync: resolveSemiSync(given.semiSync),
    failoverGiven: given.failover,
  };
}

function resolveServer(value: unknown, path: string): ServerSpec {
  const given = object(value, path, [
    'appPort',
    'command',
    'workingDirectory',
    'user',
    'env',
    'staticDir',
    'internalPaths',
    'readyPath',
    'nginxPort',
    'nginxStatusPort',
    'nginxExporterPort',
    'failoverManager',
  ]);
  const env =
    given.env === undefined ? {} : object(given.env, at(path, 'env'), Object.keys(given.env as object));
  const internalPaths =
    given.internalPaths === undefined
      ? ['/metrics']
      : list(given.internalPaths, at(path, 'internalPaths')).map((p, i) =>
          text(p, at(at(path, 'internalPaths'), i), URL_PATH, 'a path such as "/metrics" (not "/")'),
        );
  if (new Set(internalPaths).size !== internalPaths.length)
    fail(at(path, 'internalPaths'), 'lists a path twice');
  return {
    appPort: port(given.appPort, at(path, 'appPort')),
    command: command(given.command, at(path, 'command')),
    workingDirectory:
      given.workingDirectory === undefined
        ? undefined
        : filePath(given.workingDirectory, at(path, 'workingDirectory')),
    user: text(
      given.user,
      at(path, 'user'),
      /^[a-z_][a-z0-9_-]{0,30}$/,
      'a user name such as "rwsplit-app"',
      'rwsplit-app',
    ),
    env: Object.fromEntries(
      Object.entries(env).map(([key, v]) => {
        if (!ENV_NAME.test(key)) fail(at(at(path, 'env'), key), 'expected an upper-case variable name');
        return [
          key,
          text(v, at(at(path, 'env'), key), PLAIN_VALUE, 'a value without quotes, \\, %, $ or newlines'),
        ];
      }),
    ),
    staticDir: given.staticDir === undefined ? undefined : filePath(given.staticDir, at(path, 'staticDir')),
    internalPaths,
    readyPath: text(given.readyPath, at(path, 'readyPath'), URL_PATH, 'a path such as "/readyz"', '/readyz'),
    nginxPort: port(given.nginxPort, at(path, 'nginxPort'), 8080),
    nginxStatusPort: port(given.nginxStatusPort, at(path, 'nginxStatusPort'), 8081),
    nginxExporterPort: port(given.nginxExporterPort, at(path, 'nginxExporterPort'), 9113),
    failoverManager: bool(given.failoverManager, at(path, 'failoverManager'), true),
  };
}

function resolveDb(value: unknown, path: string): DbSpec {
  const given = object(value, path, ['role', 'serverId', 'port', 'exporterPort', 'neverPromote']);
  return {
    role: oneOf(given.role, at(path, 'role'), ['primary', 'replica'] as const),
    serverId: integer(given.serverId, at(path, 'serverId'), 1, 4_294_967_295),
    port: port(given.port, at(path, 'port'), 3306),
    exporterPort: port(given.exporterPort, at(path, 'exporterPort'), 9104),
    neverPromote: bool(given.neverPromote, at(path, 'neverPromote'), false),
  };
}

function resolveHost(value: unknown, index: number): InventoryHost {
  const path = `hosts[${index}]`;
  const given = object(value, path, ['name', 'address', 'roles', 'server', 'db', 'lb']);
  const roles = list(given.roles, at(path, 'roles')).map((role, i) =>
    oneOf(role, `${path}.roles[${i}]`, ROLES),
  );
  if (new Set(roles).size !== roles.length) fail(at(path, 'roles'), 'lists a role twice');
  // A role's block is required with the role and refused without it: a typo in either is caught.
  for (const [role, key] of [
    ['server', 'server'],
    ['db', 'db'],
  ] as const) {
    if (roles.includes(role) && given[key] === undefined)
      fail(at(path, key), `required for the ${role} role`);
    if (!roles.includes(role) && given[key] !== undefined)
      fail(at(path, key), `given, but "${role}" is not in roles`);
  }
  if (!roles.includes('lb') && given.lb !== undefined)
    fail(at(path, 'lb'), 'given, but "lb" is not in roles');
  const lb = optionalObject(given.lb, at(path, 'lb'), ['priority']);
  return {
    name: text(given.name, at(path, 'name'), HOST_NAME, 'lower-case letters, digits and - (such as "db-1")'),
    address: ipv4(given.address, at(path, 'address')),
    roles,
    server: roles.includes('server') ? resolveServer(given.server, at(path, 'server')) : undefined,
    db: roles.includes('db') ? resolveDb(given.db, at(path, 'db')) : undefined,
    lbPriority:
      lb.priority === undefined ? undefined : integer(lb.priority, at(at(path, 'lb'), 'priority'), 1, 254),
  };
}

function resolveLb(value: unknown, lbCount: number): LbSettings | undefined {
  if (lbCount === 0) {
    if (value !== undefined) fail('lb', 'given, but no host has the "lb" role');
    return undefined;
  }
  if (lbCount > 2) fail('hosts', `expected one or two hosts with the "lb" role, got ${lbCount}`);
  const given = object(value, 'lb', [
    'certificate',
    'floatingAddress',
    'prefixLength',
    'interface',
    'virtualRouterId',
    'httpPort',
    'httpsPort',
    'statsPort',
    'vrrpExporterPort',
    'balance',
    'mode',
  ]);
  if (lbCount === 2 && given.floatingAddress === undefined) {
    fail('lb.floatingAddress', 'required with two LB hosts: the address keepalived moves between them');
  }
  return {
    certificate: filePath(given.certificate, 'lb.certificate'),
    floatingAddress:
      given.floatingAddress === undefined ? undefined : ipv4(given.floatingAddress, 'lb.floatingAddress'),
    prefixLength: integer(given.prefixLength, 'lb.prefixLength', 1, 32, 24),
    interface: text(
      given.interface,
      'lb.interface',
      /^[A-Za-z0-9_.:-]{1,15}$/,
      'an interface name such as "eth0"',
      'eth0',
    ),
    virtualRouterId: integer(given.virtualRouterId, 'lb.virtualRouterId', 1, 255, 51),
    httpPort: port(given.httpPort, 'lb.httpPort', 80),
    httpsPort: port(given.httpsPort, 'lb.httpsPort', 443),
    statsPort: port(given.statsPort, 'lb.statsPort', 8404),
    vrrpExporterPort: port(given.vrrpExporterPort, 'lb.vrrpExporterPort', 9100),
    balance: oneOf(given.balance, 'lb.balance', ['roundrobin', 'leastconn', 'source'] as const, 'roundrobin'),
    mode: oneOf(given.mode, 'lb.mode', ['active-active', 'active-passive'] as const, 'active-active'),
  };
}

function resolveFailover(
  clusterValue: unknown,
  value: unknown,
  hosts: readonly InventoryHost[],
): FailoverSettings | undefined {
  const on = bool(clusterValue, 'cluster.failover', true);
  const replicas = hosts.filter((host) => host.db?.role === 'replica').length;
  const managers = hosts.filter((host) => host.server?.failoverManager).length;
  if (!on || replicas === 0 || managers === 0) {
    if (value !== undefined && on)
      fail('failover', 'given, but no manager would run (it needs a replica and a server host)');
    return undefined;
  }
  const given = optionalObject(value, 'failover', ['command', 'node', 'port', ...FAILOVER_NUMBERS]);
  const settings: Record<string, number> = {};
  for (const key of FAILOVER_NUMBERS) {
    if (given[key] !== undefined) settings[key] = integer(given[key], `failover.${key}`, 0, 3_600_000);
  }
  return {
    command: command(given.command, 'failover.command', ['/usr/local/bin/rwsplit-failover']),
    node: filePath(given.node, 'failover.node', '/usr/bin/node'),
    port: port(given.port, 'failover.port', 7301),
    settings,
  };
}

function resolveMonitoring(value: unknown, count: number): MonitoringSettings | undefined {
  if (count === 0) {
    if (value !== undefined) fail('monitoring', 'given, but no host has the "monitoring" role');
    return undefined;
  }
  if (count > 1) fail('hosts', `expected at most one host with the "monitoring" role, got ${count}`);
  const given = object(value, 'monitoring', [
    'webhookUrl',
    'scrapeInterval',
    'prometheusPort',
    'alertmanagerPort',
    'blackboxPort',
    'nodeExporterPort',
  ]);
  return {
    webhookUrl: text(
      given.webhookUrl,
      'monitoring.webhookUrl',
      /^https?:\/\/[^\s'"\\]+$/,
      'an http(s) URL where Alertmanager posts alerts',
    ),
    scrapeInterval: text(
      given.scrapeInterval,
      'monitoring.scrapeInterval',
      /^\d+[smh]$/,
      'a duration such as "15s"',
      '15s',
    ),
    prometheusPort: port(given.prometheusPort, 'monitoring.prometheusPort', 9090),
    alertmanagerPort: port(given.alertmanagerPort, 'monitoring.alertmanagerPort', 9093),
    blackboxPort: port(given.blackboxPort, 'monitoring.blackboxPort', 9115),
    nodeExporterPort: port(given.nodeExporterPort, 'monitoring.nodeExporterPort', 9100),
  };
}

function resolvePaths(value: unknown): HostPaths {
  const given = optionalObject(value, 'paths', Object.keys(DEFAULT_PATHS));
  const paths: Record<string, string> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_PATHS))
    paths[key] = filePath(given[key], `paths.${key}`, fallback);
  return paths as unknown as HostPaths;
}

function unique(
  hosts: readonly InventoryHost[],
  key: (host: InventoryHost) => string | undefined,
  what: string,
  field: string,
): void {
  const seen = new Map<string, number>();
  hosts.forEach((host, index) => {
    const value = key(host);
    if (value === undefined) return;
    const first = seen.get(value);
    if (first !== undefined)
      fail(`hosts[${index}].${field}`, `${what} ${JSON.stringify(value)} is already hosts[${first}]'s`);
    seen.set(value, index);
  });
}

function checkDatabases(hosts: readonly InventoryHost[]): void {
  const primaries = hosts.flatMap((host, index) => (host.db?.role === 'primary' ? [index] : []));
  if (hosts.every((host) => host.db === undefined))
    fail('hosts', 'no host has the "db" role: give a primary');
  if (primaries.length === 0) fail('hosts', 'no db host has "role": "primary": mark exactly one');
  if (primaries.length > 1) {
    fail(
      `hosts[${primaries[1]}].db.role`,
      `a second primary (hosts[${primaries[0]}] is one): make it "replica"`,
    );
  }
  unique(
    hosts,
    (host) => (host.db === undefined ? undefined : String(host.db.serverId)),
    'server id',
    'db.serverId',
  );
}

/** Every port a host's roles listen on, each once: two services on one port cannot both start. */
function checkPorts(inventory: Omit<Inventory, 'paths'>): void {
  inventory.hosts.forEach((host, index) => {
    const ports = new Map<number, string>();
    const claim = (port: number | undefined, what: string) => {
      if (port === undefined) return;
      const other = ports.get(port);
      if (other !== undefined)
        fail(`hosts[${index}]`, `${what} and ${other} both want port ${port} on ${host.name}`);
      ports.set(port, what);
    };
    claim(22, 'SSH');
    const { lb, failover, monitoring } = inventory;
    if (host.roles.includes('lb') && lb !== undefined) {
      claim(lb.httpPort, 'lb.httpPort');
      claim(lb.httpsPort, 'lb.httpsPort');
      claim(lb.statsPort, 'lb.statsPort');
      if (lb.floatingAddress !== undefined) claim(lb.vrrpExporterPort, 'lb.vrrpExporterPort');
    }
    if (host.server !== undefined) {
      claim(host.server.appPort, 'server.appPort');
      claim(host.server.nginxPort, 'server.nginxPort');
      claim(host.server.nginxStatusPort, 'server.nginxStatusPort');
      claim(host.server.nginxExporterPort, 'server.nginxExporterPort');
      if (failover !== undefined && host.server.failoverManager) claim(failover.port, 'failover.port');
    }
    if (host.db !== undefined) {
      claim(host.db.port, 'db.port');
      claim(host.db.exporterPort, 'db.exporterPort');
    }
    if (host.roles.includes('monitoring') && monitoring !== undefined) {
      claim(monitoring.prometheusPort, 'monitoring.prometheusPort');
      claim(monitoring.alertmanagerPort, 'monitoring.alertmanagerPort');
      claim(monitoring.blackboxPort, 'monitoring.blackboxPort');
      claim(monitoring.nodeExporterPort, 'monitoring.nodeExporterPort');
    }
  });
}

/**
 * Checks an inventory (parsed JSON) and fills in the defaults. The first problem found is an
 * `InventoryError` whose `field` is the path of the offending value, e.g. `hosts[2].address`.
 */
export function resolveInventory(raw: unknown): Inventory {
  const given = object(raw, '', ['cluster', 'hosts', 'lb', 'failover', 'monitoring', 'paths']);
  const { failoverGiven, ...cluster } = resolveCluster(given.cluster);
  const hosts = list(given.hosts, 'hosts').map(resolveHost);
  unique(hosts, (host) => host.name, 'name', 'name');
  unique(hosts, (host) => host.address, 'address', 'address');
  checkDatabases(hosts);
  if (!hosts.some((host) => host.roles.includes('server'))) fail('hosts', 'no host has the "server" role');
  const lbHosts = hosts.filter((host) => host.roles.includes('lb'));
  const lb = resolveLb(given.lb, lbHosts.length);
  if (lb?.floatingAddress !== undefined && hosts.some((host) => host.address === lb.floatingAddress)) {
    fail('lb.floatingAddress', `${lb.floatingAddress} is a host's own address: pick a free one`);
  }
  if (lbHosts.length === 2) {
    const both = hosts.findIndex((host) => host.roles.includes('lb') && host.roles.includes('monitoring'));
    // Each would run its own node exporter (keepalived's state, the host's metrics) as the same unit.
    if (both >= 0)
      fail(`hosts[${both}].roles`, 'an LB of a pair cannot also be the monitoring host: move monitoring');
  }
  if (lb?.mode === 'active-passive' && hosts.filter((host) => host.server).length < 2) {
    fail('lb.mode', 'active-passive needs two server hosts');
  }
  const hasReplica = hosts.some((host) => host.db?.role === 'replica');
  const inventory = {
    cluster: { ...cluster, semiSync: hasReplica ? cluster.semiSync : undefined },
    hosts,
    lb,
    failover: resolveFailover(failoverGiven, given.failover, hosts),
    monitoring: resolveMonitoring(
      given.monitoring,
      hosts.filter((host) => host.roles.includes('monitoring')).length,
    ),
  };
  checkPorts(inventory);
  return deepFreeze({ ...inventory, paths: resolvePaths(given.paths) });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The hosts with `role`, in inventory order. */
export function hostsWith(inventory: Inventory, role: HostRole): readonly InventoryHost[] {
  return inventory.hosts.filter((host) => host.roles.includes(role));
}
