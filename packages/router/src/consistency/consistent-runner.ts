import type { Span } from '@opentelemetry/api';
import type { Classification } from '../classify/classification.js';
import { isConnectionFailure } from '../connection-failure.js';
import type { Probe } from '../dialect/dialect.js';
import type { DriverConnection } from '../driver.js';
import { type Engine, wrapFailure } from '../engine.js';
import { NoReplicaAvailableError, ReplicaUnavailableError } from '../errors.js';
import type { NodePool, PooledConnection } from '../pool.js';
import { fallbackRoute, type Route } from '../route.js';
import type { ResultTuple, Statement, StatementKind } from '../statement.js';
import { type GtidPosition, isEmpty } from './position.js';
import type { ReadYourWrites } from './read-your-writes.js';

interface Placement {
  readonly node: NodePool;
  readonly pooled: PooledConnection;
  readonly route: Route;
}

/**
 * Statements of a session that must see its own writes (`session`) or the primary (`strong`).
 *
 * Writes record the GTID their commit produced: from the OK packet when the connection tracks it
 * (no extra round trip), else with one query, which also turns tracking on for that connection.
 * A read may use a replica only once it has applied the session's position: known without a round
 * trip when the monitor's last probe of that replica already covers it, else checked with a bounded
 * wait (`consistency.waitMs`) on the very connection that then runs the read; a replica still behind
 * after that sends the read to the primary. Never a stale read, never an unbounded wait.
 */
export class ConsistentRunner {
  /** Connections on which this router turned GTID tracking on (a COM_RESET turns it off again). */
  private readonly tracking = new WeakSet<DriverConnection>();

  constructor(private readonly engine: Engine) {}

  async run(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    wanted: Route,
    span: Span,
    startedAt: number,
    scope: ReadYourWrites,
  ): Promise<ResultTuple> {
    const { engine } = this;
    let placement: Placement;
    try {
      placement =
        wanted.target === 'primary' ? await this.onPrimary(wanted) : await this.placeRead(wanted, scope);
    } catch (error) {
      engine.telemetry.refuseStatement(span, classification.operation, sql, error);
      throw error;
    }
    const { node, pooled, route } = placement;
    try {
      const result = await execute(pooled.connection, kind, statement, values);
      if (
        route.target === 'primary' &&
        (await this.recordCommit(pooled.connection, result, classification, scope))
      ) {
        pooled.broken = true;
      }
      node.release(pooled);
      engine.telemetry.endStatement(span, startedAt, node, classification.operation, sql, route, undefined);
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) pooled.broken = true;
      node.release(pooled);
      const isRead = classification.target === 'replica';
      if (isRead && route.target === 'replica' && isConnectionFailure(error)) {
        // The replica died under the read: the primary always has what the session needs.
        engine.telemetry.recordRetry(span, node, error);
        return this.retryOnPrimary(kind, statement, values, sql, classification, route, span, startedAt);
      }
      const wrapped = wrapFailure(error, node, isRead);
      engine.telemetry.endStatement(span, startedAt, node, classification.operation, sql, route, wrapped);
      throw wrapped;
    }
  }

  /**
   * Records the position a statement (or a COMMIT) of `scope` produced on `connection`. The statement
   * itself already succeeded, so bookkeeping never fails it: if the position cannot be learned, the
   * session reads from the primary from then on. Returns true when the connection failed meanwhile
   * (the caller must not reuse it).
   */
  async recordCommit(
    connection: DriverConnection,
    result: ResultTuple,
    classification: Classification,
    scope: ReadYourWrites,
  ): Promise<boolean> {
    if (scope.mode !== 'session') return false;
    const dialect = this.engine.dialect();
    let position: GtidPosition | undefined = dialect?.commitPosition(result[0]);
    if (position === undefined && !this.tracking.has(connection) && mayHaveCommitted(classification)) {
      if (dialect === undefined) {
        scope.lostTrack();
        return false;
      }
      // Tracking is off on this connection (new, or reset): ask once, and turn it on for next time.
      try {
        position = await runProbe(connection, dialect.lastCommitPosition);
        await connection.query(dialect.enableGtidTracking.sql, dialect.enableGtidTracking.values);
        this.tracking.add(connection);
      } catch (error) {
        scope.lostTrack();
        return isConnectionFailure(error);
      }
    }
    if (position !== undefined && !isEmpty(position)) scope.recordCommit(position);
    return false;
  }

  /** A connection was reset (COM_RESET_CONNECTION): its session variables, tracking included, are gone. */
  forgetTracking(connection: DriverConnection): void {
    this.tracking.delete(connection);
  }

  private async onPrimary(route: Route): Promise<Placement> {
    const node = this.engine.primary;
    return { node, pooled: await node.acquire(), route };
  }

  private async placeRead(wanted: Route, scope: ReadYourWrites): Promise<Placement> {
    const { engine } = this;
    if (scope.readsNeedPrimary) {
      return this.onPrimary(
        fallbackRoute(wanted, scope.mode === 'strong' ? 'strong consistency' : 'unverifiable token'),
      );
    }
    const replica = engine.pickReplica();
    if (replica === undefined) {
      if (engine.config.whenNoReplica === 'error') throw new NoReplicaAvailableError();
      return this.onPrimary(fallbackRoute(wanted, 'no healthy replica'));
    }
    const required = scope.requirement;
    const covered = required === undefined || scope.coveredBy(engine.monitor?.appliedPosition(replica.name));
    const wait = covered
      ? undefined
      : engine.dialect()?.waitForPosition(required, engine.config.consistency.waitMs);
    if (!covered && wait === undefined)
      return this.onPrimary(fallbackRoute(wanted, 'replica behind session'));
    let pooled: PooledConnection;
    try {
      pooled = await replica.acquire();
    } catch (error) {
      if (!(error instanceof ReplicaUnavailableError)) throw error;
      return this.onPrimary(fallbackRoute(wanted, 'replica failed'));
    }
    if (wait === undefined) return { node: replica, pooled, route: wanted };
    let reached = false;
    try {
      reached = (await runProbe(pooled.connection, wait)) === 'reached';
      engine.telemetry.recordConsistencyWait(reached ? 'reached' : 'timed_out');
    } catch (error) {
      engine.telemetry.recordConsistencyWait('failed');
      if (isConnectionFailure(error)) pooled.broken = true;
    }
    if (reached) return { node: replica, pooled, route: wanted };
    replica.release(pooled);
    return this.onPrimary(fallbackRoute(wanted, 'replica behind session'));
  }

  private async retryOnPrimary(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    sql: string,
    classification: Classification,
    failed: Route,
    span: Span,
    startedAt: number,
  ): Promise<ResultTuple> {
    const { engine } = this;
    let primary: NodePool;
    try {
      primary = engine.primary;
    } catch (error) {
      // No primary to fall back to (failover in progress): the read never ran again.
      engine.telemetry.refuseStatement(span, classification.operation, sql, error);
      throw error;
    }
    const route = fallbackRoute(failed, 'replica failed');
    return engine.retryOn(primary, kind, statement, values, sql, classification, route, span, startedAt);
  }
}

/** Writes, DDL and unknown statements may commit; reads and session/transaction control do not. */
function mayHaveCommitted(classification: Classification): boolean {
  return classification.target === 'primary' && !classification.sessionState;
}

function execute(
  connection: DriverConnection,
  kind: StatementKind,
  statement: Statement,
  values: unknown,
): Promise<ResultTuple> {
  return (
    kind === 'query' ? connection.query(statement, values) : connection.execute(statement, values)
  ) as Promise<ResultTuple>;
}

async function runProbe<T>(connection: DriverConnection, probe: Probe<T>): Promise<T | undefined> {
  const [rows] = await connection.query(probe.sql, probe.values);
  const parsed = probe.parse(rows);
  return parsed.ok ? parsed.value : undefined;
}
