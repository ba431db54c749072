import type { Context } from '@opentelemetry/api';
import { BreakerCount } from './circuit-breaker.js';
import type { Classification } from './classify/classification.js';
import { classify } from './classify/index.js';
import { CommitTracker } from './consistency/commit-tracker.js';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import { cancelStatement, type Dialect } from './dialect/dialect.js';
import {
  NoReplicaAvailableError,
  PrimaryUnavailableError,
  RouterClosedError,
  SessionStateError,
} from './errors.js';
import { LeaseTaker } from './lease-taker.js';
import { NodePool, type PooledConnection } from './pool.js';
import { ReadCandidate, type ReadSelector } from './read-selector.js';
import type { ResolvedConfig } from './resolve-config.js';
import { decideRoute, type Route } from './route.js';
import { verifyPeerOption } from './server-identity.js';
import {
  type ResultTuple,
  requestedTarget,
  type Statement,
  type StatementKind,
  type StatementOptions,
  sqlOf,
  timeoutOf,
} from './statement.js';
import { type NodeObserver, StatementRun, type StatementSpec } from './statement-run.js';
import { Telemetry } from './telemetry.js';
import { TimeoutQueue } from './timeout-queue.js';
import { type NodeStatus, TopologyMonitor } from './topology/monitor.js';
import { TIMED_OUT, withinMs } from './within.js';

const CACHE_ENTRIES = 1_000;
const CACHE_MAX_SQL = 4_096;

/** A node plus a connection on loan from it, for sessions and transactions that hold one. */
export interface Lease {
  readonly node: NodePool;
  readonly connection: PooledConnection;
  readonly route: Route;
}

/** What `close()` had to do. */
export interface CloseReport {
  /** Connections still on loan when `timeouts.closeMs` ran out (sessions never released, hung statements), destroyed. */
  readonly destroyedConnections: number;
  /** Statements still running then, failed with `RouterClosedError`. */
  readonly abortedStatements: number;
}

/**
 * The machinery behind the public router, sessions and transactions: nodes, read selection, the
 * classification cache, the deadline queue, and the entry points of the one statement pipeline
 * (`StatementRun`). Internal.
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
  /** Every statement attempt in flight, by deadline (`performance.now()` clock). */
  readonly deadlines = new TimeoutQueue(0, () => performance.now());
  /** Positions that session writes produced. */
  readonly commits: CommitTracker;
  /** How many nodes' breakers are tripped (read selection needs the clock only then). */
  private readonly breakers = new BreakerCount();
  private readonly selector: ReadSelector;
  private readonly candidates: readonly ReadCandidate[];
  private readonly byName = new Map<string, NodePool>();
  private readonly classifications = new Map<string, Classified>();
  private connectedDialect: Dialect | undefined;
  private monitorStarted = false;
  private closing: Promise<CloseReport> | undefined;

  constructor(readonly config: ResolvedConfig) {
    const onConnected: ConstructorParameters<typeof NodePool>[3] = (connection, driver) => {
      const version = driver.serverVersion?.(connection);
      this.telemetry.detectSystem(version);
      if (version !== undefined) this.connectedDialect ??= config.detectDialect(version);
    };
    const breakers = this.breakers;
    this.configuredPrimary = new NodePool(config.primary, 'primary', config, onConnected, breakers);
    this.replicas = config.replicas.map(
      (node) => new NodePool(node, 'replica', config, onConnected, breakers),
    );
    this.nodes = [this.configuredPrimary, ...this.replicas];
    for (const node of this.nodes) this.byName.set(node.name, node);
    this.candidates = this.nodes.map((node) => new ReadCandidate(node, node.role === 'replica'));
    this.selector = config.readSelector();
    this.telemetry = new Telemetry(config, this.nodes);
    if (this.telemetry.metered) this.telemetry.observeTopology(() => this.topology());
    this.commits = new CommitTracker(() => this.dialect());
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
    // The monitor's connections get the same identity check as the pools' (and share its verdicts).
    const verifiers = new Map(
      this.nodes.map((node) => [node.name, verifyPeerOption(config.connection.ssl, node.host, node.port)]),
    );
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
          ...verifiers.get(node.name),
        }),
      logger: config.logger,
      onChange: (change) => this.telemetry.recordTopologyChange(change),
      onRotation: (inRotation) => {
        for (const candidate of this.candidates) candidate.readable = inRotation.has(candidate.name);
      },
      detectDialect: config.detectDialect,
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
    return this.classified(sql).classification;
  }

  /** The memoised classification and the route it gives a call without options. */
  private classified(sql: string): Classified {
    let found = this.classifications.get(sql);
    if (found === undefined) {
      const classification = classify(sql);
      let plainRoute: Route | undefined;
      try {
        plainRoute = decideRoute(classification, classification.hint, 'hint');
      } catch {
        // A refused hint: `route()` throws it again for each call.
      }
      found = { classification, plainRoute };
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

  /** The replica for the next read, by the configured selector among those in rotation, skipping `exclude`. */
  pickReplica(exclude?: NodePool): NodePool | undefined {
    // The clock only matters while some breaker is open; skip reading it otherwise.
    const now = this.breakers.tripped === 0 ? 0 : Date.now();
    return this.selector.select(this.candidates, now, exclude)?.node;
  }

  /**
   * No replica can take a read: fine if reads may fall back to the primary; else `NoReplicaAvailableError`,
   * or `firstFailure` when a replica already failed this read (the more useful report).
   */
  noReplica(firstFailure?: unknown): void {
    if (this.config.whenNoReplica !== 'error') return;
    throw firstFailure ?? new NoReplicaAvailableError();
  }

  /** The route of a statement outside a pinned scope; throws for refused hints. */
  route(statement: Statement, options: StatementOptions | undefined, classification: Classification): Route {
    const requested = requestedTarget(statement, options);
    return requested === undefined
      ? decideRoute(classification, classification.hint, 'hint')
      : decideRoute(classification, requested, 'target option');
  }

  /**
   * One statement through the shared API or an unpinned session: classify, route, run with deadlines,
   * retry a failed read once. `allowSessionState` is false on the shared API, where a statement that
   * changes connection state is refused (its state would be lost on a pooled connection).
   */
  run(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    options: StatementOptions | undefined,
    allowSessionState: boolean,
    scope: ReadYourWrites | undefined,
    observer?: NodeObserver,
  ): Promise<ResultTuple> {
    if (this.closing !== undefined) return Promise.reject(new RouterClosedError());
    if (!this.monitorStarted) void this.startMonitor();
    let sql: string;
    try {
      sql = typeof statement === 'string' ? statement : sqlOf(statement);
    } catch (error) {
      return Promise.reject(error);
    }
    const { classification, plainRoute } = this.classified(sql);
    // Only the duration metric needs the start now; else the deadline queue stamps it.
    const startedAt = this.telemetry.metered ? performance.now() : Number.NaN;
    const span = this.telemetry.startStatement(classification.operation, undefined);
    let route: Route;
    let timeoutMs: number | undefined;
    try {
      if (!allowSessionState && classification.sessionState) {
        throw new SessionStateError(classification.operation);
      }
      if (options === undefined && plainRoute !== undefined && typeof statement === 'string') {
        route = plainRoute;
      } else {
        route = this.route(statement, options, classification);
        timeoutMs = timeoutOf(statement, options);
      }
    } catch (error) {
      this.telemetry.refuseStatement(span, classification.operation, sql, error);
      return Promise.reject(error);
    }
    const { timeouts } = this.config;
    const read = classification.target === 'replica';
    const budgetMs = timeoutMs ?? (read ? timeouts.readTotalMs : timeouts.writeMs);
    const attemptMs = read ? Math.min(budgetMs, timeouts.readMs) : budgetMs;
    return this.start({
      kind,
      statement,
      values,
      sql,
      classification,
      route,
      span,
      startedAt,
      budgetMs,
      attemptMs,
      scope: active(scope),
      lease: undefined,
      observer,
    });
  }

  /** One statement on a connection a pinned session or a transaction holds: bounded in time, never retried. */
  runPinned(
    lease: Lease,
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    parent: Context | undefined,
    options: StatementOptions | undefined,
    scope: ReadYourWrites | undefined,
    observer?: NodeObserver,
  ): Promise<ResultTuple> {
    const startedAt = this.telemetry.metered ? performance.now() : Number.NaN;
    const span = this.telemetry.startStatement(classification.operation, parent);
    let timeoutMs: number | undefined;
    try {
      timeoutMs = timeoutOf(statement, options);
    } catch (error) {
      this.telemetry.refuseStatement(span, classification.operation, sql, error);
      return Promise.reject(error);
    }
    const { timeouts } = this.config;
    const budgetMs = timeoutMs ?? (classification.target === 'replica' ? timeouts.readMs : timeouts.writeMs);
    return this.start({
      kind,
      statement,
      values,
      sql,
      classification,
      route: lease.route,
      span,
      startedAt,
      budgetMs,
      attemptMs: budgetMs,
      scope: active(scope),
      lease,
      observer,
    });
  }

  /**
   * Both entry points end here. The spec is written out as one literal with its keys in one order at both
   * call sites (never spread: esbuild's helper for a spread costs ~10 us), so it keeps one shape.
   */
  private start(spec: StatementSpec): Promise<ResultTuple> {
    return new StatementRun(this, spec).start();
  }

  /**
   * A connection for a whole transaction or pinned session: the primary, or for `readOnly` a replica
   * that satisfies `scope` (another one, then the primary per `whenNoReplica`, if the first cannot be
   * reached: nothing has run on it yet).
   */
  async lease(readOnly: boolean, reason: string, scope?: ReadYourWrites): Promise<Lease> {
    if (this.closing !== undefined) throw new RouterClosedError();
    if (!this.monitorStarted) void this.startMonitor();
    const taker = new LeaseTaker(this, readOnly, reason);
    // Nothing runs yet: the bound is the pool's acquire timeout (a read-only one's consistency wait included).
    return taker.take(scope, performance.now() + this.config.pool.acquireTimeoutMs);
  }

  /**
   * Returns a held connection to its pool: as it is when `reset` is false (or it broke, then it is
   * destroyed), else after COM_RESET_CONNECTION, or destroyed if the reset fails or does not answer
   * within the connect timeout. Resolves when the connection is back.
   */
  giveBack(lease: Lease, reset: boolean): Promise<void> | undefined {
    const { node, connection } = lease;
    const resetConnection = connection.connection.reset;
    if (connection.broken || !reset) {
      node.release(connection);
      return undefined;
    }
    if (resetConnection === undefined) {
      node.discard(connection);
      return undefined;
    }
    // A reset also drops the connection's GTID tracking.
    this.commits.forget(connection.connection);
    return withinMs(resetConnection.call(connection.connection), this.config.pool.connectTimeoutMs).then(
      (outcome) => (outcome === TIMED_OUT ? node.discard(connection) : node.release(connection)),
      () => node.discard(connection),
    );
  }

  /**
   * Gives up on a connection whose statement will not be waited for: it is never reused (destroyed now
   * if it is the pool's own, marked broken if a session, transaction or placement still holds it and
   * gives it back later), its socket is closed, and the statement is cancelled on the server, best
   * effort (KILL QUERY over the node's control connection).
   */
  abandon(node: NodePool, pooled: PooledConnection, held: boolean): void {
    if (held) pooled.broken = true;
    else node.discard(pooled);
    const threadId = pooled.connection.threadId;
    if (typeof threadId === 'number') {
      const { sql, values } = cancelStatement(threadId);
      void node.control(sql, values);
    }
    pooled.connection.destroy();
  }

  /**
   * Stops taking statements; waits up to `timeouts.closeMs` for running statements, open transactions
   * and held sessions; then fails what still runs, destroys what is still on loan, and closes every
   * connection. Idempotent.
   */
  close(): Promise<CloseReport> {
    if (this.closing === undefined) {
      this.telemetry.shutdown();
      const graceMs = this.config.timeouts.closeMs;
      const monitorStopped = this.monitor?.stop();
      let stillRunning = 0;
      const abortAll = () => {
        const running = this.deadlines.pendingItems();
        stillRunning += running.length;
        for (const run of running) (run as StatementRun).abort();
      };
      const aborter = setTimeout(abortAll, graceMs);
      this.closing = Promise.all([monitorStopped, ...this.nodes.map((node) => node.close(graceMs))]).then(
        (results) => {
          clearTimeout(aborter);
          abortAll();
          this.deadlines.clear();
          let destroyed = 0;
          for (const count of results) if (typeof count === 'number') destroyed += count;
          const report = { destroyedConnections: destroyed, abortedStatements: stillRunning };
          if (destroyed > 0 || stillRunning > 0) {
            this.config.logger.warn(
              `rwsplit: close() gave up waiting after ${graceMs} ms: destroyed ${destroyed} connection(s) still on loan and failed ${stillRunning} statement(s) still running; release sessions before closing`,
              { ...report },
            );
          }
          return report;
        },
      );
    }
    return this.closing;
  }
}

/** A memoised classification, with the route of a statement given as plain text and no options. */
interface Classified {
  readonly classification: Classification;
  /** Undefined when the statement's own hint is refused (the route throws then). */
  readonly plainRoute: Route | undefined;
}

/** The scope a statement must honour: none for `eventual`, which asks for nothing. */
function active(scope: ReadYourWrites | undefined): ReadYourWrites | undefined {
  return scope === undefined || scope.mode === 'eventual' ? undefined : scope;
}
