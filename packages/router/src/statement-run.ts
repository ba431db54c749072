import type { Span } from '@opentelemetry/api';
import type { Classification } from './classify/classification.js';
import { isConnectionFailure, isReadOnlyRefusal } from './connection-failure.js';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import type { Engine, Lease } from './engine.js';
import {
  AcquireTimeoutError,
  QueryFailedError,
  RouterClosedError,
  StatementTimeoutError,
  WriteOutcomeUnknownError,
} from './errors.js';
import { DeadlinePassed, NodeUnavailable, unavailableAs } from './node-failure.js';
import { noReplicaLeft, placeRead } from './placement.js';
import type { NodePool, PooledConnection } from './pool.js';
import type { Route } from './route.js';
import type { ResultTuple, Statement, StatementKind } from './statement.js';
import type { Expirable } from './timeout-queue.js';

/** How long a write refused by a read-only primary waits for another node to take writes. */
const PRIMARY_MOVE_WAIT_MS = 5_000;
/** How often it looks (the monitor's own interval decides how soon it can see). */
const PRIMARY_MOVE_POLL_MS = 20;

let capturedResolve: (result: ResultTuple) => void = () => {};
let capturedReject: (error: unknown) => void = () => {};
/** A promise executor that only hands its settle functions over (runs synchronously in `new Promise`). */
function captureSettlers(resolve: (result: ResultTuple) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** What a run needs to know about its statement, fixed for all its attempts. */
export interface StatementSpec {
  readonly kind: StatementKind;
  readonly statement: Statement;
  readonly values: unknown;
  readonly sql: string;
  readonly classification: Classification;
  /** Where the statement asked to go; a fallback may change it. */
  readonly route: Route;
  readonly span: Span;
  /**
   * `performance.now()` when the statement arrived, read only where something needs it (the duration
   * metric); else NaN, and the deadline queue stamps the start (`TimeoutQueue.addAfter`).
   */
  readonly startedAt: number;
  /** The whole budget, retry included (ms from the start). */
  readonly budgetMs: number;
  /** One attempt's bound (ms); the budget still caps it. */
  readonly attemptMs: number;
  /** What the statement must see and record (read-your-writes, strong); undefined: eventual. */
  readonly scope: ReadYourWrites | undefined;
  /** The connection a pinned session or transaction holds: the statement runs there, never elsewhere. */
  readonly lease: Lease | undefined;
  /** Told the name of the node that answered (a session's `lastNode`). */
  readonly observer: NodeObserver | undefined;
}

/** Wants to know which node answered a statement. */
export interface NodeObserver {
  served: string | undefined;
}

/**
 * One statement's way through the router: route → attempt → retry or fallback → telemetry, in one place
 * for the shared API, sessions and transactions alike.
 *
 * Every attempt has a deadline (`attemptMs`, capped by the statement's whole budget). A read that passes
 * it is abandoned: its connection is destroyed (mysql2 never settles a statement on a connection it
 * closed, so the run settles itself), the statement is cancelled on the server (KILL QUERY over a
 * control connection), and the read goes once more to another eligible node within the budget. A write
 * that passes it, or whose connection fails once sent, ends with `WriteOutcomeUnknownError` and is never
 * retried; one that never got a connection changed nothing and says so.
 *
 * Attempts are numbered: whatever an abandoned attempt's promises do later, they find the number moved
 * on and only give back what they hold.
 */
export class StatementRun implements Expirable {
  /** The current attempt's deadline (`performance.now()` clock), for the engine's deadline queue. */
  deadline = 0;
  /** True while an attempt is in flight. */
  pending = false;
  queuePrev: Expirable | undefined = undefined;
  queueNext: Expirable | undefined = undefined;
  queued = false;
  unstampedMs: number | undefined = undefined;
  private attempt = 0;
  /** A read-only refusal was followed to a new primary already (at most once per statement). */
  private followedPrimary = false;
  private route: Route;
  private node: NodePool | undefined;
  private pooled: PooledConnection | undefined;
  /** The statement itself went to the server in the current attempt. */
  private sent = false;
  /** A node that failed this statement once: the retry avoids it, and there is no third attempt. */
  private failed: NodePool | undefined;
  /** Why the first attempt failed (named): what a read reports if its retry finds nowhere to go. */
  firstFailure: unknown;
  /** A write's result while its commit position is being recorded: it already succeeded. */
  private succeeded: ResultTuple | undefined;
  /** When the whole budget runs out (`performance.now()` clock); NaN until the start is known. */
  private budgetEnd: number;
  private resolve!: (result: ResultTuple) => void;
  private reject!: (error: unknown) => void;

  constructor(
    private readonly engine: Engine,
    private readonly spec: StatementSpec,
  ) {
    this.route = spec.route;
    this.budgetEnd = spec.startedAt + spec.budgetMs; // NaN while the start is unknown
  }

  /** Runs the statement; settles exactly once. */
  start(): Promise<ResultTuple> {
    // A shared executor instead of a closure per statement: it leaves the settle functions behind.
    const promise = new Promise<ResultTuple>(captureSettlers);
    this.resolve = capturedResolve;
    this.reject = capturedReject;
    const startedAt = this.spec.startedAt;
    this.run(undefined, Number.isNaN(startedAt) ? undefined : startedAt);
    return promise;
  }

  /** The deadline queue stamped the first attempt's start (`now`): the budget starts there too. */
  stamped(now: number, attemptMs: number): number {
    if (Number.isNaN(this.budgetEnd)) this.budgetEnd = now + this.spec.budgetMs;
    return Math.min(this.budgetEnd, now + attemptMs);
  }

  /** The attempt's deadline now, reading the clock if the queue has not stamped it yet. */
  private deadlineNow(): number {
    if (this.queued === true && Number.isFinite(this.deadline)) return this.deadline;
    const now = performance.now();
    const deadline = this.stamped(now, this.spec.attemptMs);
    this.engine.deadlines.addAt(this, deadline);
    return deadline;
  }

  /** The deadline of the current attempt passed (called by the engine's deadline queue). */
  expire(): void {
    this.pending = false;
    const { node, pooled } = this;
    if (this.giveUp('deadline passed')) return;
    // A held connection was just destroyed with its statement: whatever the session or transaction held
    // on it is gone, so running this again alone would not be the same.
    const timeout = new StatementTimeoutError(node?.name ?? '', this.spec.budgetMs, undefined, {
      connectionLost: this.spec.lease !== undefined && pooled !== undefined,
    });
    if (!this.retryAfter(node, timeout)) this.fail(node, timeout);
  }

  /** The router is closing and its grace period is over: this statement will never finish. */
  abort(): void {
    if (!this.pending) return;
    this.done();
    if (!this.giveUp('connection lost')) this.fail(this.node, new RouterClosedError());
  }

  /**
   * Stops waiting for the current attempt: its connection is abandoned, and the statement settles if what
   * it did is known: a write that already succeeded (only its position was still being learned: the
   * session reads from the primary now), or a write that was sent and never answered (outcome unknown).
   * False when it changed nothing, and the caller decides (retry, time out, closed).
   */
  private giveUp(why: 'deadline passed' | 'connection lost'): boolean {
    this.attempt++;
    const { node, pooled, sent } = this;
    if (node !== undefined && pooled !== undefined) this.abandon(node, pooled);
    if (this.succeeded !== undefined) {
      this.spec.scope?.lostTrack();
      this.succeed(node as NodePool, this.succeeded);
      return true;
    }
    if (sent && !this.isRead) {
      this.fail(node, this.outcomeUnknown(node, why));
      return true;
    }
    return false;
  }

  /**
   * A write that was sent and got no answer: it may have been applied, so the session's reads must not
   * trust a replica to have (or not have) it: they go to the primary from now on.
   */
  private outcomeUnknown(
    node: NodePool | undefined,
    why: 'deadline passed' | 'connection lost',
    cause?: unknown,
  ): WriteOutcomeUnknownError {
    this.spec.scope?.lostTrack();
    return new WriteOutcomeUnknownError(node?.name ?? '', why, cause);
  }

  /** This attempt is over: off the deadline queue (a finished statement is not kept alive by it). */
  private done(): void {
    this.pending = false;
    this.engine.deadlines.remove(this);
  }

  private get isRead(): boolean {
    return this.spec.classification.target === 'replica';
  }

  /**
   * One attempt: chooses a node, takes a connection, sends the statement. `now` is undefined for a first
   * attempt whose start nobody read: the deadline queue stamps it.
   */
  private run(exclude: NodePool | undefined, now: number | undefined): void {
    const attempt = ++this.attempt;
    const { engine, spec } = this;
    this.node = undefined;
    this.pooled = undefined;
    this.sent = false;
    this.pending = true;
    if (now === undefined) engine.deadlines.addAfter(this, spec.attemptMs);
    else engine.deadlines.addAt(this, this.stamped(now, spec.attemptMs));
    const lease = spec.lease;
    if (lease !== undefined) {
      this.node = lease.node;
      this.pooled = lease.connection;
      this.route = lease.route;
      void this.send(attempt, lease.node, lease.connection);
      return;
    }
    // The hot path, synchronous up to the driver call: a plain route and an idle connection at hand.
    const scope = spec.scope;
    const plain =
      scope === undefined ||
      this.route.target === 'primary' ||
      (scope.requirement === undefined && !scope.readsNeedPrimary);
    if (plain) {
      let node: NodePool;
      try {
        node = this.chooseNode(exclude);
      } catch (error) {
        this.placeFailed(error);
        return;
      }
      this.node = node;
      const pooled = node.takeIdle(now ?? engine.deadlines.coarseNow());
      if (pooled !== undefined) {
        this.pooled = pooled;
        void this.send(attempt, node, pooled);
        return;
      }
    }
    void this.placeAndSend(attempt, exclude, this.deadlineNow());
  }

  /** The primary, or a replica by the selector (the primary when none is left and reads may go there). */
  private chooseNode(exclude: NodePool | undefined): NodePool {
    const { engine, spec } = this;
    if (this.route.target === 'replica') {
      const replica = engine.pickReplica(exclude);
      if (replica !== undefined) return replica;
      this.route = noReplicaLeft(engine, spec.route, exclude, this.firstFailure);
    }
    return engine.primary;
  }

  private async placeAndSend(
    attempt: number,
    exclude: NodePool | undefined,
    deadline: number,
  ): Promise<void> {
    try {
      await this.place(attempt, exclude, deadline);
    } catch (error) {
      if (attempt === this.attempt) this.placeFailed(error);
      return;
    }
    const { node, pooled } = this.placed();
    if (attempt !== this.attempt || node === undefined || pooled === undefined) return;
    return this.send(attempt, node, pooled);
  }

  /** Sends the statement on `pooled` and settles the run with its outcome, unless the attempt was abandoned. */
  private async send(attempt: number, node: NodePool, pooled: PooledConnection): Promise<void> {
    const { engine, spec } = this;
    this.sent = true;
    let result: ResultTuple;
    try {
      result = (await (spec.kind === 'query'
        ? pooled.connection.query(spec.statement, spec.values)
        : pooled.connection.execute(spec.statement, spec.values))) as ResultTuple;
    } catch (error) {
      if (attempt === this.attempt) this.runFailed(node, pooled, error);
      return;
    }
    if (attempt !== this.attempt) return;
    const scope = spec.scope;
    if (scope !== undefined && this.route.target === 'primary' && scope.mode === 'session') {
      this.succeeded = result;
      const broke = await engine.commits.record(pooled.connection, result, spec.classification, scope);
      if (attempt !== this.attempt) return;
      if (broke) pooled.broken = true;
    }
    this.done();
    this.giveBack(node, pooled);
    this.succeed(node, result);
  }

  /** What placement left (read through a method: the compiler cannot see placement assign the fields). */
  private placed(): { node: NodePool | undefined; pooled: PooledConnection | undefined } {
    return { node: this.node, pooled: this.pooled };
  }

  /** Chooses the node and takes a connection for this attempt; leaves them in `node` and `pooled`. */
  private async place(attempt: number, exclude: NodePool | undefined, deadline: number): Promise<void> {
    const { engine, spec } = this;
    if (this.route.target === 'replica' && spec.scope !== undefined) {
      await placeRead(engine, this, spec.route, spec.scope, exclude, deadline, attempt);
      return;
    }
    const node = this.node ?? this.chooseNode(exclude);
    this.node = node;
    const resource = await node.checkout(deadline);
    const pooled = node.usable(resource) ?? (await node.recover(resource, deadline));
    this.holds(attempt, node, pooled);
  }

  /**
   * @internal Placement took `pooled` of `node` for attempt `attempt`; if that attempt was abandoned
   * meanwhile, the connection goes straight back. Throws nothing.
   */
  holds(attempt: number, node: NodePool, pooled: PooledConnection, route?: Route): boolean {
    if (attempt !== this.attempt) {
      node.release(pooled);
      return false;
    }
    this.node = node;
    this.pooled = pooled;
    if (route !== undefined) this.route = route;
    return true;
  }

  /** @internal Placement chose `node` (no connection yet), so a failure is reported against it. */
  choose(node: NodePool, route: Route): void {
    this.node = node;
    this.route = route;
  }

  /** @internal Placement gave up a connection it had taken (a consistency wait fell short). */
  letGo(): void {
    if (this.node !== undefined && this.pooled !== undefined) this.giveBack(this.node, this.pooled);
    this.pooled = undefined;
  }

  /** @internal The attempt whose promise is resolving, to tell a current attempt from an abandoned one. */
  get current(): number {
    return this.attempt;
  }

  private placeFailed(error: unknown): void {
    const node = this.node;
    if (this.pooled !== undefined && node !== undefined) {
      if (isConnectionFailure(error)) this.pooled.broken = true;
      this.giveBack(node, this.pooled);
    }
    this.done();
    if (node === undefined) {
      // The retry found nowhere to go: report it against the node that failed first.
      if (this.failed !== undefined) this.fail(this.failed, error);
      else this.refuse(error);
      return;
    }
    const named = this.nameBeforeSend(node, error);
    // Nothing was sent: a read may try elsewhere, whether the node failed or only its pool was busy.
    const nodeTrouble =
      error instanceof NodeUnavailable ||
      error instanceof DeadlinePassed ||
      error instanceof AcquireTimeoutError ||
      isConnectionFailure(error);
    if (nodeTrouble && this.retryAfter(node, named)) return;
    this.fail(node, named);
  }

  private runFailed(node: NodePool, pooled: PooledConnection, error: unknown): void {
    this.done();
    const lost = isConnectionFailure(error);
    if (lost) pooled.broken = true;
    this.giveBack(node, pooled);
    if (!lost) {
      if (isReadOnlyRefusal(error) && this.mayFollowPrimary()) {
        void this.afterPrimaryMoves(node, error);
        return;
      }
      // The server answered with an SQL error: mysql2's own error, as a plain pool would throw it.
      this.fail(node, error);
      return;
    }
    if (!this.isRead) {
      this.fail(node, this.outcomeUnknown(node, 'connection lost', error));
      return;
    }
    const named = new QueryFailedError(node.name, error);
    if (!this.retryAfter(node, named)) this.fail(node, named);
  }

  /**
   * A statement refused by a read-only primary changed nothing, so it may run once more on the node that
   * takes writes next: outside a held connection (a transaction's work is gone with its connection), with
   * a monitor to see the move, once.
   */
  private mayFollowPrimary(): boolean {
    return (
      this.route.target === 'primary' &&
      this.spec.lease === undefined &&
      this.engine.monitor !== undefined &&
      !this.followedPrimary
    );
  }

  /**
   * Waits (within the statement's budget, `PRIMARY_MOVE_WAIT_MS` at most) until the monitor sees another
   * node take writes, then runs the statement there; else fails with the server's refusal. A switchover
   * refuses writes for tens of ms: the caller sees a slower write, not an error.
   */
  private async afterPrimaryMoves(refusedBy: NodePool, error: unknown): Promise<void> {
    this.followedPrimary = true;
    const attempt = this.attempt;
    const now = performance.now();
    if (Number.isNaN(this.budgetEnd)) this.budgetEnd = now + this.spec.budgetMs;
    const until = Math.min(this.budgetEnd, now + PRIMARY_MOVE_WAIT_MS);
    while (performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, PRIMARY_MOVE_POLL_MS));
      if (attempt !== this.attempt) return;
      let next: NodePool;
      try {
        next = this.engine.primary;
      } catch {
        continue; // none writable for a moment, or two: wait for one
      }
      if (next !== refusedBy) {
        this.run(undefined, performance.now());
        return;
      }
    }
    this.fail(refusedBy, error);
  }

  /** What a failure before anything was sent is called, by the route's target (the role is the route's). */
  private nameBeforeSend(node: NodePool, error: unknown): unknown {
    if (error instanceof NodeUnavailable) return unavailableAs(this.route.target, error);
    if (error instanceof DeadlinePassed) return new StatementTimeoutError(node.name, this.spec.budgetMs);
    if (isConnectionFailure(error))
      return unavailableAs(this.route.target, node.unavailable('connect failed', error));
    return error;
  }

  /**
   * A read that failed on `node` without an answer goes once more elsewhere (another replica in
   * rotation that satisfies the session, else the primary per `whenNoReplica`), if its budget allows.
   * Returns false when it may not.
   */
  private retryAfter(node: NodePool | undefined, error: unknown): boolean {
    const { spec, engine } = this;
    if (!this.isRead || spec.lease !== undefined || this.failed !== undefined || node === undefined)
      return false;
    if (this.route.target !== 'replica') return false;
    // Failed before its start was stamped: it began within a tick, call it now.
    const now = performance.now();
    if (Number.isNaN(this.budgetEnd)) this.budgetEnd = now + spec.budgetMs;
    if (now >= this.budgetEnd) return false;
    this.failed = node;
    this.firstFailure = error;
    engine.telemetry.recordRetry(spec.span, node, error);
    this.run(node, now);
    return true;
  }

  /** Destroys a connection whose statement will not be waited for, and cancels that statement on the server. */
  private abandon(node: NodePool, pooled: PooledConnection): void {
    this.pooled = undefined;
    this.engine.abandon(node, pooled, this.spec.lease !== undefined);
  }

  private giveBack(node: NodePool, pooled: PooledConnection): void {
    this.pooled = undefined;
    // A pinned connection stays with its session or transaction; only the pool's own go back, stamped
    // with the deadline queue's coarse clock rather than another reading.
    if (this.spec.lease === undefined) node.release(pooled, this.engine.deadlines.coarseNow());
  }

  private succeed(node: NodePool, result: ResultTuple): void {
    const observer = this.spec.observer;
    if (observer !== undefined) observer.served = node.name;
    this.end(node, undefined);
    this.resolve(result);
  }

  private fail(node: NodePool | undefined, error: unknown): void {
    if (node === undefined) {
      this.refuse(error);
      return;
    }
    this.end(node, error);
    this.reject(error);
  }

  /** The statement's span and metrics, with the node and route it ended on. */
  private end(node: NodePool, error: unknown): void {
    const { spec } = this;
    const { operation } = spec.classification;
    this.engine.telemetry.endStatement(
      spec.span,
      spec.startedAt,
      node,
      operation,
      spec.sql,
      this.route,
      error,
    );
  }

  /** No node was ever chosen (no primary, no replica under `whenNoReplica: 'error'`). */
  private refuse(error: unknown): void {
    const { spec } = this;
    this.engine.telemetry.refuseStatement(spec.span, spec.classification.operation, spec.sql, error);
    this.reject(error);
  }
}
