import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { ConnectionOptions } from 'mysql2/promise';
import type { CircuitBreakerConfig } from './circuit-breaker-config.js';
import type { ConsistencyConfig, ConsistencyMode } from './consistency/consistency-config.js';
import type { Dialect } from './dialect/dialect.js';
import type { Driver } from './driver.js';
import type { PoolConfig } from './pool-config.js';
import type { ReadSelector, ReadSelectorName } from './read-selector.js';
import type { TimeoutsConfig } from './timeouts-config.js';
import type { TopologyLogger } from './topology/topology-logger.js';

export type { CircuitBreakerConfig } from './circuit-breaker-config.js';
export type { PoolConfig } from './pool-config.js';
export type { TimeoutsConfig } from './timeouts-config.js';

/** One database server. */
export interface NodeConfig {
  /** Host name or IP address. Required. */
  readonly host: string;
  /** TCP port. Default: `3306`. */
  readonly port?: number;
  /**
   * Name used in errors, spans (`rwsplit.node`) and metrics (`db.client.connection.pool.name`).
   * Must be unique across primary and replicas. Default: `` `${host}:${port}` ``.
   */
  readonly name?: string;
}

/** A replica. Reads are spread over healthy replicas by smooth weighted round robin. */
export interface ReplicaConfig extends NodeConfig {
  /** Relative share of reads, a positive integer: weight 2 gets twice the reads of weight 1. Default: `1`. */
  readonly weight?: number;
}

/**
 * mysql2 connection options shared by every node (user, password, database, ssl, timezone, charset,
 * typeCast, namedPlaceholders ...), passed to mysql2 as they are, except that mysql2's `trace` defaults to
 * `false` here (its per-statement stack capture would show only router frames and costs ~7 us a statement),
 * and that the router checks a TLS server's certificate against the node's host itself, in place of
 * `ssl.verifyIdentity` (see the README's "TLS to the database"). The address comes from the node and
 * the connect timeout from `pool.connectTimeoutMs`, so `host`, `port`, `socketPath`, `uri` and
 * `connectTimeout` are refused here.
 */
export type ConnectionConfig = Omit<
  ConnectionOptions,
  'host' | 'port' | 'socketPath' | 'uri' | 'connectTimeout'
>;

/**
 * The topology monitor: one small connection per node (never a pool connection), polled every
 * `intervalMs` for reachability, role (`read_only`), replication threads, GTID position and lag.
 * It decides which replicas serve reads and which node takes writes (failover).
 */
export interface MonitorOptions {
  /** Poll interval. Default: `250` ms. */
  readonly intervalMs?: number;
  /** Bound on one node's probe; a node that does not answer within it is unreachable. Default: `1000` ms. */
  readonly timeoutMs?: number;
  /**
   * Account for the monitor's connections (needs REPLICA MONITOR / REPLICATION CLIENT, and INSERT on
   * the heartbeat table). Default: `connection.user` / `connection.password`.
   */
  readonly user?: string;
  readonly password?: string;
}

/** The monitor's fixed defaults, stated once (the doc comments above are checked against them by a test). */
export const MONITOR_DEFAULTS: Required<Pick<MonitorOptions, 'intervalMs' | 'timeoutMs'>> = Object.freeze({
  intervalMs: 250,
  timeoutMs: 1_000,
});

/** When a replica is too far behind to serve reads. */
export interface LagOptions {
  /** Replicas whose lag is above this leave rotation. Default: `1000` ms. */
  readonly maxMs?: number;
  /** A replica that left rotation returns after staying healthy this long (no flapping). Default: `1000` ms. */
  readonly readmitAfterMs?: number;
}

export const LAG_DEFAULTS: Required<LagOptions> = Object.freeze({
  maxMs: 1_000,
  readmitAfterMs: 1_000,
});

/**
 * The replication heartbeat (like pt-heartbeat): the monitor upserts `NOW(6)` into a one-row-per-writer
 * table on the primary every interval; on a replica, lag = now − the newest replicated timestamp, with
 * millisecond precision. Without it, lag comes from `Seconds_Behind_Master` (whole seconds).
 */
export interface HeartbeatOptions {
  /** Schema of the heartbeat table. Default: `connection.database`. */
  readonly schema?: string;
  /** Name of the heartbeat table. Default: `'rwsplit_heartbeat'`. */
  readonly table?: string;
  /** Create the table if it is missing (needs CREATE on the schema). Default: `true`. */
  readonly create?: boolean;
  /** This router's row in the table (routers on several app servers may share one id). Default: `1`. */
  readonly writerId?: number;
}

/** The heartbeat's fixed defaults (`schema` defaults to `connection.database`). */
export const HEARTBEAT_DEFAULTS: Required<Pick<HeartbeatOptions, 'table' | 'create' | 'writerId'>> =
  Object.freeze({
    table: 'rwsplit_heartbeat',
    create: true,
    writerId: 1,
  });

/** Everything `createRouter` accepts. Validated once, at creation; the router keeps a frozen copy. */
export interface RouterConfig {
  /** Where writes, locking reads, unknown statements, sessions with state and transactions go. Required. */
  readonly primary: NodeConfig;
  /** Where reads go. Default: `[]` (every statement runs on the primary). */
  readonly replicas?: readonly ReplicaConfig[];
  /** Shared mysql2 connection options. Default: `{}`. */
  readonly connection?: ConnectionConfig;
  /** Per-node pool settings. Defaults: see `PoolConfig`. */
  readonly pool?: PoolConfig;
  /** Per-node circuit breaker. Defaults: see `CircuitBreakerConfig`. */
  readonly circuitBreaker?: CircuitBreakerConfig;
  /**
   * What a read does when no replica is healthy: `'primary'` runs it on the primary (span attribute
   * `rwsplit.fallback`), `'error'` throws `NoReplicaAvailableError`. Default: `'primary'`.
   */
  readonly whenNoReplica?: 'primary' | 'error';
  /**
   * `db.system.name` on spans and metrics. Default: detected from the server version at the first
   * connect (`'mariadb'` if it says MariaDB), `'mysql'` until then.
   */
  readonly dbSystem?: 'mysql' | 'mariadb';
  /**
   * Whether spans carry `db.query.text`: `'always'` records the SQL text as given (placeholders, never
   * the bound values), `'never'` leaves it out. Default: `'always'`.
   */
  readonly queryText?: 'always' | 'never';
  /** Tracer provider for spans. Default: the global one from `@opentelemetry/api` (a no-op unless an SDK registered one). */
  readonly tracerProvider?: TracerProvider;
  /**
   * Meter provider for metrics. Default: the global one at the time `createRouter` runs (register the
   * SDK first: the API has no proxy meter provider).
   */
  readonly meterProvider?: MeterProvider;
  /** Opens connections. Default: mysql2 (`mysql2Driver`). Tests pass a fake. */
  readonly driver?: Driver;
  /** The topology monitor; `false` turns it off (static roles, no lag awareness, no failover). Defaults: see `MonitorOptions`. */
  readonly monitor?: MonitorOptions | false;
  /** Lag limits for replicas. Defaults: see `LagOptions`. */
  readonly lag?: LagOptions;
  /** The heartbeat table; `false` uses `Seconds_Behind_Master` only. Defaults: see `HeartbeatOptions`. */
  readonly heartbeat?: HeartbeatOptions | false;
  /** What reads must see: a mode, or the mode with its settings. Default: `'session'` (read-your-writes in sessions). */
  readonly consistency?: ConsistencyMode | ConsistencyConfig;
  /** Receives topology changes (replica in/out of rotation, primary changes). Default: none. */
  readonly logger?: TopologyLogger;
  /** Deadlines for statements and for `close()`. Defaults: see `TimeoutsConfig`. */
  readonly timeouts?: TimeoutsConfig;
  /**
   * How a read picks its replica: `'weighted-round-robin'` (smooth, by `weight`), `'least-outstanding'`
   * (fewest statements in flight per unit of weight: better for unequal replicas), or your own
   * `ReadSelector`. Default: `'weighted-round-robin'`.
   */
  readonly readSelector?: ReadSelectorName | ReadSelector;
  /**
   * The server dialect (replica status, GTID parsing and waits, role discovery): an instance used as it
   * is, or a function from the server's version string to one. Default: detected from the version,
   * MariaDB if it says so, else MySQL 8 (`detectDialect`). Pass your own for servers that version
   * strings cannot tell apart (Aurora, group replication ...).
   */
  readonly dialect?: Dialect | ((serverVersion: string) => Dialect);
}
