import type { Context, Span } from '@opentelemetry/api';
import type { Classification } from './classify/classification.js';
import { classify } from './classify/index.js';
import { isConnectionFailure } from './connection-failure.js';
import { ConsistentRunner } from './consistency/consistent-runner.js';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import { type Dialect, detectDialect } from './dialect/dialect.js';
import {
  NoReplicaAvailableError,
  PrimaryUnavailableError,
  QueryFailedError,
  ReplicaUnavailableError,
  RouterClosedError,
  RwsplitError,
  SessionStateError,
} from './errors.js';
import { NodePool, type PooledConnection } from './pool.js';
import type { ResolvedConfig } from './resolve-config.js';
import { decideRoute, fallbackRoute, type Route } from './route.js';
import { selectWeighted } from './select.js';
import {
  type ResultTuple,
  requestedTarget,
  type Statement,
  type StatementKind,
  type StatementOptions,
  sqlOf,
} from './statement.js';
import { Telemetry } from './telemetry.js';
import { type NodeStatus, TopologyMonitor } from './topology/monitor.js';

const CACHE_ENTRIES = 1_000;
const CACHE_MAX_SQL = 4_096;

/** A node plus a connection on loan from it, for sessions and transactions that hold one. */
export interface Lease {
  readonly node: NodePool;
  readonly connection: PooledConnection;
  readonly route: Route;
}

/**
 * The machinery behind the public router, sessions and transactions: nodes, selection, the
 * classification cache, statement execution with retry/fallback, and telemetry. Internal.
 */
export class Engine {
  /** The node configured as primary: the write target until the monitor discovers another. */
  readonly configuredPrimary: NodePool;
  /** The configured replicas. */
  readonly replicas: readonly NodePool[];
  /** Every node, configured primary first. Roles change by failover, so any of them may serve reads. */
  readonly nodes: readonly NodePool[];
  readonly telemetry: Telemetry;
  /** Undefined with `monitor: false`: static roles, no lag awareness, no failover. */
  readonly monitor: TopologyMonitor | undefined;
  private readonly readCandidates: readonly ReadCandidate[];
  private readonly candidateOf = new Map<NodePool, ReadCandidate>();
  private readonly byName = new Map<string, NodePool>();
  private readonly weights: number[];
  private readonly classifications = new Map<string, Classification>();
  private connectedDialect: Dialect | undefined;
  private monitorStarted = false;
  private closing: Promise<void> | undefined;
  /** Session reads and writes that must see (or record) GTID positions. */
  readonly consistency: ConsistentRunner = new ConsistentRunner(this);

  constructor(readonly config: ResolvedConfig) {
    const onConnected: ConstructorParameters<typeof NodePool>[3] = (connection, driver) => {
      const version = driver.serverVersion?.(connection);
      this.telemetry.detectSystem(version);
      if (version !== undefined) this.connectedDialect ??= detectDialect(version);
    };
    this.configuredPrimary = new NodePool(config.primary, 'primary', config, onConnected);
    this.replicas = config.replicas.map((node) => new NodePool(node, 'replica', config, onConnected));
    this.nodes = [this.configuredPrimary, ...this.replicas];
    for (const node of this.nodes) this.byName.set(node.name, node);
    this.readCandidates = this.nodes.map((node) => {
      const candidate = new ReadCandidate(node, this);
      this.candidateOf.set(node, candidate);
      return candidate;
    });
    this.weights = this.readCandidates.map(() => 0);
    this.telemetry = new Telemetry(config, this.nodes);
    this.monitor = config.monitor === undefined ? undefined : this.createMonitor(config.monitor);
  }

  /**
   * Starts the monitor on first use, not at creation: `createRouter` opens no connection. Resolves
   * after its first round.
   */
  startMonitor(): Promise<void> {
    this.monitorStarted = true;
    return this.monitor?.start() ?? Promise.resolve();
  }

  private createMonitor(monitor: NonNullable<ResolvedConfig['monitor']>): TopologyMonitor {
    const { config } = this;
    return new TopologyMonitor({
      nodes: this.nodes.map((node) => ({ name: node.name, host: node.host, port: node.port })),
      configuredPrimary: this.configuredPrimary.name,
      intervalMs: monitor.intervalMs,
      timeoutMs: monitor.timeoutMs,
      maxLagMs: config.lag.maxMs,
      readmitAfterMs: config.lag.readmitAfterMs,
      heartbeat: config.heartbeat,
      connect: (node) =>
        config.driver.connect({
          ...config.connection,
          ...(monitor.user === undefined ? {} : { user: monitor.user }),
          ...(monitor.password === undefined ? {} : { password: monitor.password }),
          host: node.host,
          port: node.port,
          connectTimeout: monitor.timeoutMs,
        }),
      logger: config.logger,
      onChange: (change) => this.telemetry.recordTopologyChange(change),
    });
  }

  /**
   * The node that takes writes now. With the monitor: the one reachable node with `read_only` off.
   * None (primary down, promotion under way) or two (split brain) fail fast instead of guessing.
   */
  get primary(): NodePool {
    const decision = this.monitor?.primary();
    if (decision === undefined) return this.configuredPrimary;
    if (decision.kind === 'primary') return this.byName.get(decision.node) ?? this.configuredPrimary;
    if (decision.kind === 'split-brain') {
      const both = decision.nodes.join(' and ');
      throw new PrimaryUnavailableError(
        both,
        `split brain: ${both} are both writable, so writes are stopped rather than sent to both; make all but one read-only`,
      );
    }
    throw new PrimaryUnavailableError(this.configuredPrimary.name, decision.reason);
  }

  /** Whether `node` may serve reads now: in rotation per the monitor (or a configured replica without one). */
  readable(node: NodePool): boolean {
    return this.monitor === undefined ? node.role === 'replica' : this.monitor.inRotation(node.name);
  }

  /** The servers' dialect, once known (first monitor probe or first pool connect). */
  dialect(): Dialect | undefined {
    return this.monitor?.detectedDialect() ?? this.connectedDialect;
  }

  /** Each node's role, health, lag and rotation as last seen. */
  topology(): NodeStatus[] {
    if (this.monitor) return this.monitor.snapshot();
    const now = Date.now();
    return this.nodes.map((node) => ({
      name: node.name,
      host: node.host,
      port: node.port,
      role: node.role,
      reachable: node.isAvailable(now),
      lagMs: null,
      inRotation: node.role === 'replica' && node.isAvailable(now),
      checkedAt: 0,
    }));
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** `classify`, memoised: the same SQL text always classifies the same, and ORMs repeat their texts. */
  classify(sql: string): Classification {
    let found = this.classifications.get(sql);
    if (found === undefined) {
      found = classify(sql);
      if (sql.length <= CACHE_MAX_SQL) {
        if (this.classifications.size >= CACHE_ENTRIES) {
          const oldest = this.classifications.keys().next();
          if (oldest.done !== true) this.classifications.delete(oldest.value);
        }
        this.classifications.set(sql, found);
      }
    }
    return found;
  }

  /** Next replica by smooth weighted round robin among healthy ones, skipping `exclude`. */
  pickReplica(exclude?: NodePool): NodePool | undefined {
    // The clock only matters while some breaker is open; skip reading it otherwise.
    let now = 0;
    for (const node of this.nodes) if (node.breaker.retryAt !== 0) now = Date.now();
    const skip = exclude === undefined ? undefined : this.candidateOf.get(exclude);
    const index = selectWeighted(this.readCandidates, this.weights, now, skip);
    return index < 0 ? undefined : this.readCandidates[index]?.node;
  }

  /** The route of a statement on the shared API; throws for session state and refused hints. */
  routeShared(
    statement: Statement,
    options: StatementOptions | undefined,
    classification: Classification,
  ): Route {
    if (classification.sessionState) throw new SessionStateError(classification.operation);
    return this.routeUnpinned(statement, options, classification);
  }

  routeUnpinned(
    statement: Statement,
    options: StatementOptions | undefined,
    classification: Classification,
  ): Route {
    const requested = requestedTarget(statement, options);
    return requested === undefined
      ? decideRoute(classification, classification.hint, 'hint')
      : decideRoute(classification, requested, 'target option');
  }

  /** One statement through the shared API: classify, route, run on a pooled connection, retry a failed read once. */
  async run(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    options: StatementOptions | undefined,
    allowSessionState: boolean,
    scope?: ReadYourWrites,
  ): Promise<ResultTuple> {
    if (this.closing !== undefined) throw new RouterClosedError();
    if (!this.monitorStarted) void this.startMonitor();
    const sql = typeof statement === 'string' ? statement : sqlOf(statement);
    const classification = this.classify(sql);
    const startedAt = performance.now();
    const span = this.telemetry.startStatement(classification.operation, undefined);
    let route: Route;
    try {
      route = allowSessionState
        ? this.routeUnpinned(statement, options, classification)
        : this.routeShared(statement, options, classification);
    } catch (error) {
      this.telemetry.refuseStatement(span, classification.operation, sql, error);
      throw error;
    }
    if (scope !== undefined && scope.mode !== 'eventual') {
      return this.consistency.run(
        kind,
        statement,
        values,
        sql,
        classification,
        route,
        span,
        startedAt,
        scope,
      );
    }
    let node: NodePool | undefined;
    try {
      node = route.target === 'primary' ? this.primary : this.pickReplica();
      if (node === undefined) {
        if (this.config.whenNoReplica === 'error') throw new NoReplicaAvailableError();
        node = this.primary;
        route = fallbackRoute(route, 'no healthy replica');
      }
    } catch (error) {
      this.telemetry.refuseStatement(span, classification.operation, sql, error);
      throw error;
    }
    // The hot path, inline: one promise from the pool (none of our own), one from mysql2.
    let pooled: PooledConnection | undefined;
    let result: ResultTuple;
    try {
      const resource = await node.checkout();
      pooled = node.usable(resource) ?? (await node.recover(resource));
      result =
        kind === 'query'
          ? await pooled.connection.query(statement, values)
          : await pooled.connection.execute(statement, values);
    } catch (error) {
      if (pooled !== undefined) {
        if (isConnectionFailure(error)) pooled.broken = true;
        node.release(pooled);
      }
      return this.afterFailure(
        kind,
        statement,
        values,
        sql,
        classification,
        route,
        node,
        error,
        span,
        startedAt,
      );
    }
    node.release(pooled);
    this.telemetry.endStatement(span, startedAt, node, classification.operation, sql, route, undefined);
    return result;
  }

  /** A statement failed on `node`: a read that lost its replica goes elsewhere once; anything else is reported. */
  private afterFailure(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    route: Route,
    node: NodePool,
    error: unknown,
    span: Span,
    startedAt: number,
  ): Promise<ResultTuple> {
    if (route.target !== 'replica' || !isReplicaFailure(error)) {
      const wrapped = wrapFailure(error, node, classification.target === 'replica');
      this.telemetry.endStatement(span, startedAt, node, classification.operation, sql, route, wrapped);
      return Promise.reject(wrapped);
    }
    this.telemetry.recordRetry(span, node, error);
    return this.retryRead(kind, statement, values, sql, classification, route, node, error, span, startedAt);
  }

  /** A read failed on `failed` with a connection failure: once more on another replica, or the primary. */
  private async retryRead(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    wanted: Route,
    failed: NodePool,
    firstError: unknown,
    span: Span,
    startedAt: number,
  ): Promise<ResultTuple> {
    let route = wanted;
    let node = this.pickReplica(failed);
    if (node === undefined) {
      if (this.config.whenNoReplica === 'error') {
        const wrapped = wrapFailure(firstError, failed, true);
        this.telemetry.endStatement(span, startedAt, failed, classification.operation, sql, route, wrapped);
        throw wrapped;
      }
      node = this.primary;
      route = fallbackRoute(route, 'replica failed');
    }
    return this.retryOn(node, kind, statement, values, sql, classification, route, span, startedAt);
  }

  /**
   * The second attempt of a read whose first node failed: runs it on `node` and ends the statement's
   * span and metrics with its outcome. Shared by plain reads and session reads.
   */
  async retryOn(
    node: NodePool,
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    route: Route,
    span: Span,
    startedAt: number,
  ): Promise<ResultTuple> {
    try {
      const result = await this.runOnce(node, kind, statement, values);
      this.telemetry.endStatement(span, startedAt, node, classification.operation, sql, route, undefined);
      return result;
    } catch (error) {
      const wrapped = wrapFailure(error, node, true);
      this.telemetry.endStatement(span, startedAt, node, classification.operation, sql, route, wrapped);
      throw wrapped;
    }
  }

  /** One statement on a connection of `node`, released (or destroyed if it broke) whatever happens. */
  async runOnce(
    node: NodePool,
    kind: StatementKind,
    statement: Statement,
    values: unknown,
  ): Promise<ResultTuple> {
    const pooled = await node.acquire();
    try {
      const result =
        kind === 'query'
          ? await pooled.connection.query(statement, values)
          : await pooled.connection.execute(statement, values);
      node.release(pooled);
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) pooled.broken = true;
      node.release(pooled);
      throw error;
    }
  }

  /** One statement on a connection the caller holds (a pinned session or a transaction). */
  async runOn(
    lease: Lease,
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    parent: Context | undefined,
  ): Promise<ResultTuple> {
    const startedAt = performance.now();
    const span = this.telemetry.startStatement(classification.operation, parent);
    const { node, connection } = lease;
    try {
      const result =
        kind === 'query'
          ? await connection.connection.query(statement, values)
          : await connection.connection.execute(statement, values);
      this.telemetry.endStatement(
        span,
        startedAt,
        node,
        classification.operation,
        sql,
        lease.route,
        undefined,
      );
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) connection.broken = true;
      const wrapped = wrapFailure(error, node, classification.target === 'replica');
      this.telemetry.endStatement(span, startedAt, node, classification.operation, sql, lease.route, wrapped);
      throw wrapped;
    }
  }

  /**
   * A connection for a whole transaction: the primary, or for `readOnly` a replica (another one, then
   * the primary per `whenNoReplica`, if the first cannot be reached: nothing has run on it yet).
   */
  async lease(readOnly: boolean, reason: string): Promise<Lease> {
    if (this.closing !== undefined) throw new RouterClosedError();
    if (!this.monitorStarted) void this.startMonitor();
    const wanted = decideRoute(
      { target: readOnly ? 'replica' : 'primary', reason, sessionState: false, operation: '' },
      undefined,
      'hint',
    );
    if (!readOnly) {
      const primary = this.primary;
      return { node: primary, connection: await primary.acquire(), route: wanted };
    }
    let failed: NodePool | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      const node = this.pickReplica(failed);
      if (node === undefined) break;
      try {
        return { node, connection: await node.acquire(), route: wanted };
      } catch (error) {
        if (!(error instanceof ReplicaUnavailableError)) throw error;
        failed = node;
        lastError = error;
      }
    }
    if (this.config.whenNoReplica === 'error') throw lastError ?? new NoReplicaAvailableError();
    const route = fallbackRoute(wanted, lastError === undefined ? 'no healthy replica' : 'replica failed');
    const primary = this.primary;
    return { node: primary, connection: await primary.acquire(), route };
  }

  close(): Promise<void> {
    if (this.closing === undefined) {
      this.telemetry.shutdown();
      const monitorStopped = this.monitor?.stop();
      this.closing = Promise.all([monitorStopped, ...this.nodes.map((node) => node.close())]).then(
        () => undefined,
      );
    }
    return this.closing;
  }
}

/** A node as read selection sees it: available while its breaker is closed and it is in rotation. */
class ReadCandidate {
  readonly weight: number;
  constructor(
    readonly node: NodePool,
    private readonly engine: Engine,
  ) {
    this.weight = node.weight;
  }
  isAvailable(now: number): boolean {
    return this.engine.readable(this.node) && this.node.isAvailable(now);
  }
}

/** A replica could not be reached, or the connection failed mid-read: worth one more try elsewhere. */
function isReplicaFailure(error: unknown): boolean {
  return (
    error instanceof ReplicaUnavailableError ||
    (!(error instanceof RwsplitError) && isConnectionFailure(error))
  );
}

/** Connection-level failures become `QueryFailedError`; SQL errors from the server pass through unchanged. */
export function wrapFailure(error: unknown, node: NodePool, isRead: boolean): unknown {
  if (error instanceof RwsplitError || !isConnectionFailure(error)) return error;
  return new QueryFailedError(node.name, isRead, error);
}
