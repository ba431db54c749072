import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { type ResolvedCircuitBreakerConfig, resolveCircuitBreakerConfig } from './circuit-breaker-config.js';
import { CONSISTENCY_DEFAULTS, type ConsistencyMode } from './consistency/consistency-config.js';
import { createTokenCodec, type TokenCodec } from './consistency/token.js';
import { type Dialect, detectDialect } from './dialect/dialect.js';
import type { Driver } from './driver.js';
import { InvalidOptionError } from './errors.js';
import { mysql2Driver } from './mysql2-driver.js';
import {
  bag,
  describe,
  hasMethods,
  integer,
  isBag,
  oneOf,
  optionalString,
  rejectUnknown,
} from './options/validate.js';
import type { PoolNode } from './pool.js';
import { type ResolvedPoolConfig, resolvePoolConfig } from './pool-config.js';
import { type ReadSelector, readSelectorFor } from './read-selector.js';
import {
  type ConnectionConfig,
  HEARTBEAT_DEFAULTS,
  LAG_DEFAULTS,
  MONITOR_DEFAULTS,
  type RouterConfig,
} from './router-config.js';
import { checksIdentity } from './server-identity.js';
import { type ResolvedTimeoutsConfig, resolveTimeoutsConfig } from './timeouts-config.js';
import type { TopologyLogger } from './topology/topology-logger.js';

export type ResolvedNode = PoolNode;

/** `RouterConfig` with every default filled in; deeply frozen except for the objects the caller owns. */
export interface ResolvedConfig {
  readonly primary: ResolvedNode;
  readonly replicas: readonly ResolvedNode[];
  readonly connection: Readonly<ConnectionConfig>;
  readonly pool: ResolvedPoolConfig;
  readonly circuitBreaker: ResolvedCircuitBreakerConfig;
  readonly timeouts: ResolvedTimeoutsConfig;
  /** Makes the router's read selector (one per router: selectors keep state). */
  readonly readSelector: () => ReadSelector;
  /** The dialect for a server version string. */
  readonly detectDialect: (serverVersion: string) => Dialect;
  readonly whenNoReplica: 'primary' | 'error';
  readonly dbSystem: 'mysql' | 'mariadb' | undefined;
  readonly queryText: 'always' | 'never';
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
  readonly driver: Driver;
  /** Undefined when the monitor is off. */
  readonly monitor: ResolvedMonitor | undefined;
  readonly lag: { readonly maxMs: number; readonly readmitAfterMs: number };
  readonly heartbeat: ResolvedHeartbeat | undefined;
  readonly consistency: {
    readonly mode: ConsistencyMode;
    readonly waitMs: number;
    readonly codec: TokenCodec;
  };
  readonly logger: TopologyLogger;
}

export interface ResolvedMonitor {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
}

export interface ResolvedHeartbeat {
  readonly schema: string;
  readonly table: string;
  readonly create: boolean;
  readonly writerId: number;
}

const SILENT: TopologyLogger = Object.freeze({ info() {}, warn() {} });

const TOP_LEVEL_KEYS = new Set([
  'primary',
  'replicas',
  'connection',
  'pool',
  'circuitBreaker',
  'whenNoReplica',
  'dbSystem',
  'queryText',
  'tracerProvider',
  'meterProvider',
  'driver',
  'monitor',
  'lag',
  'heartbeat',
  'consistency',
  'logger',
  'timeouts',
  'readSelector',
  'dialect',
]);
const MONITOR_KEYS = new Set(['intervalMs', 'timeoutMs', 'user', 'password']);
const LAG_KEYS = new Set(['maxMs', 'readmitAfterMs']);
const HEARTBEAT_KEYS = new Set(['schema', 'table', 'create', 'writerId']);
const CONSISTENCY_KEYS = new Set(['mode', 'waitMs', 'secret']);
const CONSISTENCY_MODES: readonly ConsistencyMode[] = ['eventual', 'session', 'strong'];
const NODE_KEYS = new Set(['host', 'port', 'name', 'weight']);
const REFUSED_CONNECTION_KEYS: Readonly<Record<string, string>> = {
  host: 'set the address on primary/replicas instead',
  port: 'set the address on primary/replicas instead',
  socketPath: 'set the address on primary/replicas instead',
  uri: 'set the address on primary/replicas instead',
  connectTimeout: 'use pool.connectTimeoutMs instead',
};
// Typed options of ConnectionConfig that are checked here; the rest go to mysql2 untouched.
const CONNECTION_STRINGS = ['user', 'password', 'database', 'charset', 'timezone'] as const;

function resolveNode(value: unknown, path: string, isReplica: boolean): ResolvedNode {
  if (!isBag(value))
    throw new InvalidOptionError(path, `expected an object with host and port, got ${describe(value)}`);
  rejectUnknown(value, NODE_KEYS, path);
  const { host, name } = value;
  if (typeof host !== 'string' || host.trim() === '') {
    throw new InvalidOptionError(`${path}.host`, `expected a non-empty host name, got ${describe(host)}`);
  }
  const port = integer(value.port, `${path}.port`, 3306, 1);
  if (port > 65_535)
    throw new InvalidOptionError(`${path}.port`, `expected a TCP port (1-65535), got ${port}`);
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new InvalidOptionError(`${path}.name`, `expected a non-empty string, got ${describe(name)}`);
  }
  if (!isReplica && value.weight !== undefined) {
    throw new InvalidOptionError(`${path}.weight`, 'only replicas have a weight');
  }
  const weight = isReplica ? integer(value.weight, `${path}.weight`, 1, 1) : 1;
  return Object.freeze({ name: name ?? `${host}:${port}`, host, port, weight });
}

function resolveReplicas(value: unknown, primary: ResolvedNode): readonly ResolvedNode[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value))
    throw new InvalidOptionError('replicas', `expected an array, got ${describe(value)}`);
  const seen = new Set([primary.name]);
  const replicas = value.map((replica: unknown, i) => {
    const node = resolveNode(replica, `replicas[${i}]`, true);
    if (seen.has(node.name)) {
      throw new InvalidOptionError(
        `replicas[${i}].name`,
        `duplicate node name "${node.name}"; give each node a unique name`,
      );
    }
    seen.add(node.name);
    return node;
  });
  return Object.freeze(replicas);
}

function resolveConnection(value: unknown): Readonly<ConnectionConfig> {
  const connection = bag(value, 'connection');
  for (const [key, advice] of Object.entries(REFUSED_CONNECTION_KEYS)) {
    if (connection[key] !== undefined)
      throw new InvalidOptionError(`connection.${key}`, `not accepted here; ${advice}`);
  }
  for (const key of CONNECTION_STRINGS) {
    const option = connection[key];
    if (option !== undefined && typeof option !== 'string') {
      throw new InvalidOptionError(`connection.${key}`, `expected a string, got ${describe(option)}`);
    }
  }
  const { ssl } = connection;
  if (ssl !== undefined && typeof ssl !== 'string' && !isBag(ssl)) {
    throw new InvalidOptionError(
      'connection.ssl',
      `expected a profile name or an options object, got ${describe(ssl)}`,
    );
  }
  // mysql2's `trace` (on by default) captures a stack trace for every statement so that a failed one
  // points at its caller; behind the router that stack shows only router frames, and capturing it costs
  // ~7 us of CPU per statement. Off unless the caller asks for it.
  // Shallow: nested values (ssl certificates as Buffers, typeCast functions) belong to the caller, except
  // for the ssl options object, of which the router keeps a copy of its own. mysql2 caches TLS sessions
  // per that object (and address), and a session resumed from another mysql2 connection of the process
  // would carry no certificate the router ever checked (see server-identity.ts); mysql2 also writes into
  // the object (so it is not frozen). The router checks the server's name itself, so mysql2's own check
  // is off in the copy: for a host given as an IP address it would check the name `localhost` instead.
  const own = isBag(ssl) ? { ssl: checksIdentity(ssl) ? { ...ssl, verifyIdentity: false } : { ...ssl } } : {};
  return Object.freeze({ trace: false, ...connection, ...own }) as Readonly<ConnectionConfig>;
}

function resolveMonitor(value: unknown): ResolvedMonitor | undefined {
  if (value === false) return undefined;
  const monitor = bag(value, 'monitor');
  rejectUnknown(monitor, MONITOR_KEYS, 'monitor');
  return Object.freeze({
    intervalMs: integer(monitor.intervalMs, 'monitor.intervalMs', MONITOR_DEFAULTS.intervalMs, 10),
    timeoutMs: integer(monitor.timeoutMs, 'monitor.timeoutMs', MONITOR_DEFAULTS.timeoutMs, 1),
    user: optionalString(monitor.user, 'monitor.user'),
    password: optionalString(monitor.password, 'monitor.password'),
  });
}

function resolveLag(value: unknown): ResolvedConfig['lag'] {
  const lag = bag(value, 'lag');
  rejectUnknown(lag, LAG_KEYS, 'lag');
  return Object.freeze({
    maxMs: integer(lag.maxMs, 'lag.maxMs', LAG_DEFAULTS.maxMs, 0),
    readmitAfterMs: integer(lag.readmitAfterMs, 'lag.readmitAfterMs', LAG_DEFAULTS.readmitAfterMs, 0),
  });
}

function resolveHeartbeat(value: unknown, database: string | undefined): ResolvedHeartbeat | undefined {
  if (value === false) return undefined;
  const heartbeat = bag(value, 'heartbeat');
  rejectUnknown(heartbeat, HEARTBEAT_KEYS, 'heartbeat');
  const schema = optionalString(heartbeat.schema, 'heartbeat.schema') ?? database;
  // Without a database to put it in, an unconfigured heartbeat is simply off (lag from Seconds_Behind_Master).
  if (schema === undefined && value === undefined) return undefined;
  if (schema === undefined) {
    throw new InvalidOptionError(
      'heartbeat.schema',
      'required when connection.database is not set (or pass heartbeat: false)',
    );
  }
  const create = heartbeat.create ?? HEARTBEAT_DEFAULTS.create;
  if (typeof create !== 'boolean')
    throw new InvalidOptionError('heartbeat.create', `expected a boolean, got ${describe(create)}`);
  return Object.freeze({
    schema,
    table: optionalString(heartbeat.table, 'heartbeat.table') ?? HEARTBEAT_DEFAULTS.table,
    create,
    writerId: integer(heartbeat.writerId, 'heartbeat.writerId', HEARTBEAT_DEFAULTS.writerId, 0),
  });
}

function resolveConsistency(value: unknown): ResolvedConfig['consistency'] {
  const given = typeof value === 'string' ? { mode: value } : bag(value, 'consistency');
  rejectUnknown(given, CONSISTENCY_KEYS, 'consistency');
  const path = typeof value === 'string' ? 'consistency' : 'consistency.mode';
  const mode =
    oneOf(given.mode, path, CONSISTENCY_MODES, CONSISTENCY_DEFAULTS.mode) ?? CONSISTENCY_DEFAULTS.mode;
  let codec: TokenCodec;
  try {
    codec = createTokenCodec(given.secret === undefined ? {} : { secret: given.secret as string });
  } catch (error) {
    throw new InvalidOptionError(
      'consistency.secret',
      error instanceof Error ? error.message : String(error),
    );
  }
  return Object.freeze({
    mode,
    waitMs: integer(given.waitMs, 'consistency.waitMs', CONSISTENCY_DEFAULTS.waitMs, 0),
    codec,
  });
}

function resolveReadSelector(value: unknown): () => ReadSelector {
  if (value === undefined) return readSelectorFor('weighted-round-robin');
  if (value === 'weighted-round-robin' || value === 'least-outstanding') return readSelectorFor(value);
  if (isBag(value) && typeof value.select === 'function')
    return readSelectorFor(value as unknown as ReadSelector);
  throw new InvalidOptionError(
    'readSelector',
    `expected 'weighted-round-robin', 'least-outstanding' or an object with select(), got ${describe(value)}`,
  );
}

const DIALECT_METHODS = ['commitPosition', 'waitForPosition', 'heartbeat', 'parsePosition'] as const;

function resolveDialect(value: unknown): (serverVersion: string) => Dialect {
  if (value === undefined) return detectDialect;
  if (typeof value === 'function') return value as (serverVersion: string) => Dialect;
  if (isBag(value) && DIALECT_METHODS.every((m) => typeof value[m] === 'function')) {
    const dialect = value as unknown as Dialect;
    return () => dialect;
  }
  throw new InvalidOptionError(
    'dialect',
    `expected a Dialect (with ${DIALECT_METHODS.join(', ')}) or a function from a version string to one, got ${describe(value)}`,
  );
}

/** Validates `options` (errors name the offending option), fills in defaults and freezes the result. */
export function resolveConfig(options: RouterConfig): ResolvedConfig {
  if (!isBag(options))
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  const raw = options as Readonly<Record<string, unknown>>;
  rejectUnknown(raw, TOP_LEVEL_KEYS, '');
  if (raw.primary === undefined)
    throw new InvalidOptionError('primary', 'required: the address of the primary');
  const primary = resolveNode(raw.primary, 'primary', false);
  hasMethods(raw.tracerProvider, 'tracerProvider', ['getTracer']);
  hasMethods(raw.meterProvider, 'meterProvider', ['getMeter']);
  hasMethods(raw.driver, 'driver', ['connect']);
  hasMethods(raw.logger, 'logger', ['info', 'warn']);
  const connection = resolveConnection(raw.connection);
  return Object.freeze({
    primary,
    replicas: resolveReplicas(raw.replicas, primary),
    connection,
    pool: resolvePoolConfig(raw.pool),
    circuitBreaker: resolveCircuitBreakerConfig(raw.circuitBreaker),
    timeouts: resolveTimeoutsConfig(raw.timeouts),
    readSelector: resolveReadSelector(raw.readSelector),
    detectDialect: resolveDialect(raw.dialect),
    whenNoReplica: oneOf(raw.whenNoReplica, 'whenNoReplica', ['primary', 'error'], 'primary') ?? 'primary',
    dbSystem: oneOf(raw.dbSystem, 'dbSystem', ['mysql', 'mariadb'], undefined),
    queryText: oneOf(raw.queryText, 'queryText', ['always', 'never'], 'always') ?? 'always',
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    driver: options.driver ?? mysql2Driver,
    monitor: resolveMonitor(raw.monitor),
    lag: resolveLag(raw.lag),
    heartbeat: resolveHeartbeat(raw.heartbeat, connection.database),
    consistency: resolveConsistency(raw.consistency),
    logger: options.logger ?? SILENT,
  });
}
