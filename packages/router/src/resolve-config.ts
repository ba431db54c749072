import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { ConsistencyMode } from './consistency/consistency-config.js';
import { createTokenCodec, type TokenCodec } from './consistency/token.js';
import type { Driver } from './driver.js';
import { InvalidOptionError } from './errors.js';
import { mysql2Driver } from './mysql2-driver.js';
import type { ConnectionConfig, RouterConfig } from './router-config.js';
import type { TopologyLogger } from './topology/monitor.js';

export interface ResolvedNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface ResolvedPool {
  readonly min: number;
  readonly max: number;
  readonly acquireTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly validateAfterIdleMs: number;
  readonly pingTimeoutMs: number;
}

export interface ResolvedCircuitBreaker {
  readonly failureThreshold: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

/** `RouterConfig` with every default filled in; deeply frozen except for the objects the caller owns. */
export interface ResolvedConfig {
  readonly primary: ResolvedNode;
  readonly replicas: readonly ResolvedNode[];
  readonly connection: Readonly<ConnectionConfig>;
  readonly pool: ResolvedPool;
  readonly circuitBreaker: ResolvedCircuitBreaker;
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
]);
const MONITOR_KEYS = new Set(['intervalMs', 'timeoutMs', 'user', 'password']);
const LAG_KEYS = new Set(['maxMs', 'readmitAfterMs']);
const HEARTBEAT_KEYS = new Set(['schema', 'table', 'create', 'writerId']);
const CONSISTENCY_KEYS = new Set(['mode', 'waitMs', 'secret']);
const CONSISTENCY_MODES: readonly ConsistencyMode[] = ['eventual', 'session', 'strong'];
const NODE_KEYS = new Set(['host', 'port', 'name', 'weight']);
const POOL_KEYS = new Set([
  'min',
  'max',
  'acquireTimeoutMs',
  'connectTimeoutMs',
  'idleTimeoutMs',
  'validateAfterIdleMs',
  'pingTimeoutMs',
]);
const BREAKER_KEYS = new Set(['failureThreshold', 'backoffMs', 'maxBackoffMs']);
const REFUSED_CONNECTION_KEYS: Readonly<Record<string, string>> = {
  host: 'set the address on primary/replicas instead',
  port: 'set the address on primary/replicas instead',
  socketPath: 'set the address on primary/replicas instead',
  uri: 'set the address on primary/replicas instead',
  connectTimeout: 'use pool.connectTimeoutMs instead',
};
// Typed options of ConnectionConfig that are checked here; the rest go to mysql2 untouched.
const CONNECTION_STRINGS = ['user', 'password', 'database', 'charset', 'timezone'] as const;

type Bag = Readonly<Record<string, unknown>>;

function isBag(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

function bag(value: unknown, path: string): Bag {
  if (value === undefined) return {};
  if (!isBag(value)) throw new InvalidOptionError(path, `expected an object, got ${describe(value)}`);
  return value;
}

function rejectUnknown(value: Bag, known: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new InvalidOptionError(prefixed(path, key), `unknown option (known: ${[...known].join(', ')})`);
    }
  }
}

function prefixed(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function integer(value: unknown, path: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(path, `expected an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

function oneOf<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
  fallback: T | undefined,
) {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionError(
      path,
      `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
    );
  }
  return value as T;
}

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
  // Shallow: nested values (ssl certificates as Buffers, typeCast functions) belong to the caller.
  return Object.freeze({ ...connection }) as Readonly<ConnectionConfig>;
}

function resolvePool(value: unknown): ResolvedPool {
  const pool = bag(value, 'pool');
  rejectUnknown(pool, POOL_KEYS, 'pool');
  const max = integer(pool.max, 'pool.max', 10, 1);
  const min = integer(pool.min, 'pool.min', 0, 0);
  if (min > max) throw new InvalidOptionError('pool.min', `must not exceed pool.max (${max}), got ${min}`);
  return Object.freeze({
    min,
    max,
    acquireTimeoutMs: integer(pool.acquireTimeoutMs, 'pool.acquireTimeoutMs', 5_000, 1),
    connectTimeoutMs: integer(pool.connectTimeoutMs, 'pool.connectTimeoutMs', 2_000, 1),
    idleTimeoutMs: integer(pool.idleTimeoutMs, 'pool.idleTimeoutMs', 60_000, 0),
    validateAfterIdleMs: integer(pool.validateAfterIdleMs, 'pool.validateAfterIdleMs', 5_000, 0),
    pingTimeoutMs: integer(pool.pingTimeoutMs, 'pool.pingTimeoutMs', 1_000, 1),
  });
}

function resolveBreaker(value: unknown): ResolvedCircuitBreaker {
  const breaker = bag(value, 'circuitBreaker');
  rejectUnknown(breaker, BREAKER_KEYS, 'circuitBreaker');
  const backoffMs = integer(breaker.backoffMs, 'circuitBreaker.backoffMs', 1_000, 1);
  const maxBackoffMs = integer(
    breaker.maxBackoffMs,
    'circuitBreaker.maxBackoffMs',
    Math.max(10_000, backoffMs),
    1,
  );
  if (maxBackoffMs < backoffMs) {
    throw new InvalidOptionError(
      'circuitBreaker.maxBackoffMs',
      `must be at least circuitBreaker.backoffMs (${backoffMs}), got ${maxBackoffMs}`,
    );
  }
  return Object.freeze({
    failureThreshold: integer(breaker.failureThreshold, 'circuitBreaker.failureThreshold', 2, 1),
    backoffMs,
    maxBackoffMs,
  });
}

function hasMethods(value: unknown, path: string, methods: readonly string[]): void {
  if (value === undefined) return;
  const ok = isBag(value) && methods.every((m) => typeof value[m] === 'function');
  if (!ok)
    throw new InvalidOptionError(
      path,
      `expected an object with ${methods.join(', ')}(), got ${describe(value)}`,
    );
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new InvalidOptionError(path, `expected a string, got ${describe(value)}`);
  }
  return value;
}

function resolveMonitor(value: unknown): ResolvedMonitor | undefined {
  if (value === false) return undefined;
  const monitor = bag(value, 'monitor');
  rejectUnknown(monitor, MONITOR_KEYS, 'monitor');
  return Object.freeze({
    intervalMs: integer(monitor.intervalMs, 'monitor.intervalMs', 250, 10),
    timeoutMs: integer(monitor.timeoutMs, 'monitor.timeoutMs', 1_000, 1),
    user: optionalString(monitor.user, 'monitor.user'),
    password: optionalString(monitor.password, 'monitor.password'),
  });
}

function resolveLag(value: unknown): ResolvedConfig['lag'] {
  const lag = bag(value, 'lag');
  rejectUnknown(lag, LAG_KEYS, 'lag');
  return Object.freeze({
    maxMs: integer(lag.maxMs, 'lag.maxMs', 1_000, 0),
    readmitAfterMs: integer(lag.readmitAfterMs, 'lag.readmitAfterMs', 1_000, 0),
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
  const create = heartbeat.create ?? true;
  if (typeof create !== 'boolean')
    throw new InvalidOptionError('heartbeat.create', `expected a boolean, got ${describe(create)}`);
  return Object.freeze({
    schema,
    table: optionalString(heartbeat.table, 'heartbeat.table') ?? 'rwsplit_heartbeat',
    create,
    writerId: integer(heartbeat.writerId, 'heartbeat.writerId', 1, 0),
  });
}

function resolveConsistency(value: unknown): ResolvedConfig['consistency'] {
  const given = typeof value === 'string' ? { mode: value } : bag(value, 'consistency');
  rejectUnknown(given, CONSISTENCY_KEYS, 'consistency');
  const path = typeof value === 'string' ? 'consistency' : 'consistency.mode';
  const mode = oneOf(given.mode, path, CONSISTENCY_MODES, 'session') ?? 'session';
  let codec: TokenCodec;
  try {
    codec = createTokenCodec(given.secret === undefined ? {} : { secret: given.secret as string });
  } catch (error) {
    throw new InvalidOptionError(
      'consistency.secret',
      error instanceof Error ? error.message : String(error),
    );
  }
  return Object.freeze({ mode, waitMs: integer(given.waitMs, 'consistency.waitMs', 50, 0), codec });
}

/** Validates `options` (errors name the offending option), fills in defaults and freezes the result. */
export function resolveConfig(options: RouterConfig): ResolvedConfig {
  if (!isBag(options))
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  const raw = options as Bag;
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
    pool: resolvePool(raw.pool),
    circuitBreaker: resolveBreaker(raw.circuitBreaker),
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
