import genericPool from 'generic-pool';
import { BreakerCount, CircuitBreaker } from './circuit-breaker.js';
import type { ResolvedCircuitBreakerConfig } from './circuit-breaker-config.js';
import { describeFailure } from './connection-failure.js';
import { ControlConnection } from './control-connection.js';
import type { Driver, DriverConnection, DriverConnectOptions } from './driver.js';
import { AcquireTimeoutError, RouterClosedError } from './errors.js';
import { DeadlinePassed, NodeUnavailable } from './node-failure.js';
import type { ResolvedPoolConfig } from './pool-config.js';
import { verifyPeerOption } from './server-identity.js';
import { COARSE_CLOCK_SLACK_MS, type Expirable, TimeoutQueue } from './timeout-queue.js';
import { TIMED_OUT, within, withinMs } from './within.js';

/** The role a node was configured with; the monitor may find another (failover). */
export type NodeRole = 'primary' | 'replica';

/** One node's address and read weight, as validated. */
export interface PoolNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

/** What a node's pool needs of the router's options. */
export interface NodePoolSettings {
  readonly pool: ResolvedPoolConfig;
  readonly circuitBreaker: ResolvedCircuitBreakerConfig;
  /** Shared mysql2 connection options (user, password, database, ssl ...), without the address. */
  readonly connection: Readonly<
    Omit<DriverConnectOptions, 'host' | 'port' | 'connectTimeout' | 'verifyPeer'>
  >;
  readonly driver: Driver;
}

/** A live connection on loan from a node's pool. */
export class PooledConnection {
  /** Set when the socket closed or failed; such a connection is destroyed, never reused. */
  broken = false;
  /**
   * When it was last in use (`performance.now()` ms): decides whether it is pinged before reuse and when
   * it is idle long enough to close. A statement's own connection is stamped with the statement's start
   * (its one clock reading, see `release`), so a connection looks at most one statement older than it is.
   */
  lastUsedAt: number;
  /** Sitting in its node's idle stack (see `NodePool.takeIdle`). */
  idle = false;
  /**
   * On loan from generic-pool (its idle stack included): what `release` checks before taking it back,
   * instead of generic-pool's own lookup on every statement.
   */
  lent = false;

  constructor(readonly connection: DriverConnection) {
    this.lastUsedAt = performance.now();
  }
}

/**
 * What the pool's factory yields when a connect fails. generic-pool neither rejects a waiting
 * acquire when `create()` fails nor stops retrying (it re-dispenses in a loop until the acquire
 * times out), so the factory never fails: the failure travels to the waiting caller as this value.
 */
class FailedConnect {
  constructor(
    readonly error: unknown,
    /** Nobody was waiting when it failed (a `min` refill): it is not the next taker's failure to report. */
    readonly orphan: boolean,
  ) {}
}

/** What a checkout yields: usually a connection, possibly a failed connect to report or skip. */
export type Resource = PooledConnection | FailedConnect;

/** Marks what generic-pool lent out as on loan. */
function lend(resource: Resource): Resource {
  if (resource instanceof PooledConnection) resource.lent = true;
  return resource;
}

export interface PoolStats {
  readonly idle: number;
  readonly used: number;
  readonly pending: number;
}

/** A failed connect, a timed-out connect, or a dead connection gets this error shape from the driver seam. */
function connectTimeoutError(node: string, ms: number): Error {
  return Object.assign(new Error(`connect to ${node} timed out after ${ms} ms`), {
    code: 'ETIMEDOUT',
    fatal: true,
  });
}

/** One database node: its generic-pool of connections, its circuit breaker, and its place in read selection. */
export class NodePool {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly acquireTimeoutMs: number;
  readonly breaker: CircuitBreaker;
  private readonly pool: genericPool.Pool<Resource>;
  private readonly connectOptions: DriverConnectOptions;
  private closing = false;
  /** Acquire timeouts of callers waiting for a connection, on one timer. */
  private readonly waits: TimeoutQueue;
  /** Callers waiting for a connection to be released to them (the pool is at max). FIFO. */
  private readonly handoffs: Waiter[] = [];
  private handoffHead = 0;
  /**
   * Connections given back and ready for the next statement, most recently used on top. They stay on
   * loan from generic-pool, so taking one is a synchronous pop, not generic-pool's promise, resource
   * request and deferred: the router's hot path. Those idle past `idleTimeoutMs` go back to generic-pool
   * now and then, which closes them as its idle eviction would.
   */
  private readonly idleStack: PooledConnection[] = [];
  private idleSweep: NodeJS.Timeout | undefined;
  /** Every connection this pool opened and has not destroyed yet (on loan or idle). */
  private readonly live = new Set<PooledConnection>();
  /** A connection of its own for KILL QUERY; opened on first use. */
  private readonly controlConnection: ControlConnection;

  constructor(
    node: PoolNode,
    readonly role: NodeRole,
    private readonly config: NodePoolSettings,
    private readonly onConnected?: (connection: DriverConnection, driver: Driver) => void,
    /** Shared by a router's nodes: how many of their breakers are tripped. */
    breakers: BreakerCount = new BreakerCount(),
  ) {
    this.name = node.name;
    this.host = node.host;
    this.port = node.port;
    this.weight = node.weight;
    this.acquireTimeoutMs = config.pool.acquireTimeoutMs;
    this.breaker = new CircuitBreaker(config.circuitBreaker, breakers);
    this.waits = new TimeoutQueue(config.pool.acquireTimeoutMs);
    this.controlConnection = new ControlConnection(
      () => this.connectWithin(config.pool.connectTimeoutMs),
      config.pool.connectTimeoutMs,
    );
    this.connectOptions = Object.freeze({
      ...config.connection,
      host: node.host,
      port: node.port,
      connectTimeout: config.pool.connectTimeoutMs,
      // Called once per connection, at its TLS handshake: never on a statement's way.
      ...verifyPeerOption(config.connection.ssl, node.host, node.port),
    });
    const { min, max, idleTimeoutMs } = config.pool;
    this.pool = genericPool.createPool<Resource>(
      { create: () => this.create(), destroy: (resource) => this.destroyResource(resource) },
      {
        min,
        max,
        // No acquireTimeoutMillis: generic-pool would arm a timer for every acquire; see waitForResource.
        // Most recently used first, so surplus connections go idle and get evicted.
        fifo: false,
        ...(idleTimeoutMs > 0
          ? {
              idleTimeoutMillis: idleTimeoutMs,
              evictionRunIntervalMillis: Math.max(1_000, Math.min(idleTimeoutMs, 30_000)),
              numTestsPerEvictionRun: max,
            }
          : {}),
      },
    );
  }

  isAvailable(now: number): boolean {
    return !this.breaker.isOpen(now);
  }

  /** Connections on loan plus callers waiting for one: the load least-outstanding selection weighs. */
  get outstanding(): number {
    return (
      this.pool.borrowed -
      this.idleStack.length +
      this.pool.pending +
      (this.handoffs.length - this.handoffHead)
    );
  }

  /**
   * A connection ready to use at once, without a promise, or undefined: then `checkout()`. Only what
   * needs no check: the breaker closed and the connection used recently enough to skip the ping. `now` is
   * the caller's `performance.now()`, possibly a coarse one (up to `COARSE_CLOCK_SLACK_MS` behind): a
   * connection that close to `validateAfterIdleMs` is judged on a fresh reading.
   */
  takeIdle(now: number): PooledConnection | undefined {
    const stack = this.idleStack;
    if (stack.length === 0 || this.breaker.retryAt !== 0) return undefined;
    const top = stack[stack.length - 1]!;
    if (top.broken) return undefined;
    const limit = this.config.pool.validateAfterIdleMs;
    if (now - top.lastUsedAt + COARSE_CLOCK_SLACK_MS > limit && performance.now() - top.lastUsedAt >= limit)
      return undefined;
    stack.pop();
    top.idle = false;
    return top;
  }

  stats(): PoolStats {
    let waiting = 0;
    for (let i = this.handoffHead; i < this.handoffs.length; i++) if (this.handoffs[i]!.pending) waiting++;
    const idle = this.idleStack.length;
    return {
      idle: this.pool.available + idle,
      used: this.pool.borrowed - idle,
      pending: this.pool.pending + waiting,
    };
  }

  /**
   * A healthy connection: skips connections known broken, pings one idle past `validateAfterIdleMs`,
   * fails fast while the breaker is open. Throws `NodeUnavailable` (named by the caller's route),
   * `AcquireTimeoutError`, `DeadlinePassed` (past `deadline`, a `performance.now()` time) or
   * `RouterClosedError`; never a raw driver error.
   */
  async acquire(deadline = Number.POSITIVE_INFINITY): Promise<PooledConnection> {
    const resource = await this.checkout(deadline);
    return this.usable(resource) ?? this.recover(resource, deadline);
  }

  /**
   * The hot path, split so the router can inline it: `checkout()` is generic-pool's own promise when
   * a connection is idle (no timer, no wrapper), `usable()` a synchronous check of what came back;
   * anything unusable goes through `recover()`.
   */
  checkout(deadline = Number.POSITIVE_INFINITY): Promise<Resource> {
    if (this.closing) return Promise.reject(new RouterClosedError());
    if (this.breaker.retryAt !== 0) {
      const now = Date.now();
      if (this.breaker.isOpen(now)) return Promise.reject(this.breakerOpenError(now));
    }
    const stack = this.idleStack;
    if (stack.length > 0) {
      const top = stack.pop()!;
      top.idle = false;
      return Promise.resolve(top);
    }
    // An idle resource is handed over inside acquire(); only a caller that will wait needs a timeout.
    if (this.pool.available > 0) return this.pool.acquire().then(lend);
    // Every connection is on loan and none may be added: wait for one to be handed over on release.
    if (this.pool.spareResourceCapacity <= 0) return this.waitForHandoff(deadline);
    return this.waitForResource(deadline);
  }

  /** The connection itself if it can be used as it is, else undefined (see `recover`). */
  usable(resource: Resource): PooledConnection | undefined {
    if (resource instanceof FailedConnect || resource.broken) return undefined;
    const validateAfterIdleMs = this.config.pool.validateAfterIdleMs;
    return performance.now() - resource.lastUsedAt < validateAfterIdleMs ? resource : undefined;
  }

  /** Handles what `usable` turned down: reports a failed connect, replaces broken or stale connections. */
  async recover(first: Resource, deadline = Number.POSITIVE_INFINITY): Promise<PooledConnection> {
    let resource = first;
    for (let attempt = 0; ; attempt++) {
      if (resource instanceof FailedConnect) {
        this.destroy(resource);
        // While closing, connects fail on purpose: say the router is closed, not that the node is down.
        if (this.closing) throw new RouterClosedError();
        if (!resource.orphan || attempt > this.config.pool.max) {
          throw this.unavailable(describeFailure(resource.error), resource.error);
        }
      } else if (!resource.broken && (await this.ping(resource, deadline))) {
        return resource;
      } else {
        resource.broken = true;
        this.destroy(resource);
        if (attempt > this.config.pool.max) throw this.unavailable('connections keep failing validation');
      }
      if (performance.now() >= deadline) throw this.pastDeadline();
      resource = await this.checkout(deadline);
      const ready = this.usable(resource);
      if (ready !== undefined) return ready;
    }
  }

  /**
   * Returns a connection: straight to the longest-waiting caller if there is one (it stays on loan,
   * skipping generic-pool's release/acquire round), else to the pool; destroyed if it broke. `usedAt`
   * (`performance.now()` ms) is when it was last in use: a statement passes its start, read anyway, since
   * a clock reading costs ~0.1 µs on some virtual machines.
   */
  release(connection: PooledConnection, usedAt = performance.now()): void {
    if (connection.idle || !connection.lent) return;
    if (connection.broken) {
      this.destroy(connection);
      return;
    }
    connection.lastUsedAt = usedAt;
    const waiter = this.nextHandoff();
    if (waiter !== undefined) {
      waiter.settle(connection);
    } else if (this.closing) {
      this.returnToPool(connection);
    } else {
      connection.idle = true;
      this.idleStack.push(connection);
      this.idleSweep ??= this.scheduleIdleSweep();
    }
  }

  /** Closes connections idle past `idleTimeoutMs` (keeping `min`), as generic-pool's eviction would. */
  private scheduleIdleSweep(): NodeJS.Timeout | undefined {
    const { idleTimeoutMs } = this.config.pool;
    if (idleTimeoutMs <= 0) return undefined;
    const every = Math.max(1_000, Math.min(idleTimeoutMs, 30_000));
    return setInterval(() => {
      const cutoff = performance.now() - idleTimeoutMs;
      const stack = this.idleStack;
      // Least recently used at the bottom: those go first.
      let stale = 0;
      while (stale < stack.length && stack[stale]!.lastUsedAt < cutoff) stale++;
      for (const connection of stack.splice(0, stale)) {
        connection.idle = false;
        // Above `min`, closed now; the rest wait in generic-pool's own idle list, which keeps `min` open.
        if (this.pool.size > this.config.pool.min) this.destroyInPool(connection);
        else this.returnToPool(connection);
      }
    }, every).unref();
  }

  /** Every idle connection back into generic-pool (closing: drain and clear then see them). */
  private returnIdle(): void {
    clearInterval(this.idleSweep);
    this.idleSweep = undefined;
    for (const connection of this.idleStack.splice(0)) {
      connection.idle = false;
      this.returnToPool(connection);
    }
  }

  /** Destroys a connection whose state cannot be trusted any more. */
  discard(connection: PooledConnection): void {
    if (connection.idle) return;
    connection.broken = true;
    if (!this.pool.isBorrowedResource(connection)) return;
    this.destroy(connection);
  }

  /**
   * Waits up to `graceMs` for connections on loan to come back, then destroys those still out (a
   * session never released, a statement that never ends) and closes the rest. Resolves to how many
   * had to be destroyed.
   */
  async close(graceMs: number): Promise<number> {
    this.closing = true;
    this.controlConnection.close();
    this.returnIdle();
    const drained = this.pool.drain();
    const timedOut = (await withinMs(drained, graceMs)) === TIMED_OUT;
    let forced = 0;
    if (timedOut) {
      for (const waiter of this.handoffs.splice(0)) waiter?.fail(new RouterClosedError());
      this.handoffHead = 0;
      for (const connection of this.live) {
        if (!this.pool.isBorrowedResource(connection)) continue;
        connection.broken = true;
        forced++;
        this.destroyInPool(connection);
      }
      await drained;
    }
    await this.pool.clear();
    this.waits.clear();
    return forced;
  }

  /**
   * Runs an administrative statement (KILL QUERY for a statement past its deadline) on this node's
   * control connection, never a pooled one. Best effort and bounded; false if it did not run.
   */
  control(sql: string, values: readonly unknown[]): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return this.controlConnection.run(sql, values);
  }

  /** The neutral failure this node reports; the statement's route names it (`nameFailure`). */
  unavailable(detail: string, cause?: unknown): NodeUnavailable {
    return new NodeUnavailable(this.name, `${this.host}:${this.port}`, detail, cause);
  }

  /** @internal A statement's deadline passed while it waited for a connection: nothing was sent. */
  pastDeadline(): DeadlinePassed {
    return new DeadlinePassed(this.name);
  }

  private breakerOpenError(now: number): NodeUnavailable {
    const failures = this.breaker.consecutiveFailures;
    const waitMs = this.breaker.retryAt - now;
    return this.unavailable(
      `${failures} connects failed in a row, last ${describeFailure(this.breaker.lastError)}; next attempt in ${waitMs} ms`,
      this.breaker.lastError,
    );
  }

  /** generic-pool takes the connection back (it is no longer on loan). */
  private returnToPool(connection: PooledConnection): void {
    connection.lent = false;
    void this.pool.release(connection);
  }

  private destroyInPool(resource: Resource): void {
    if (resource instanceof PooledConnection) resource.lent = false;
    void this.pool.destroy(resource);
  }

  /** Destroys a resource on loan; its slot goes to a caller waiting for a handoff, if any. */
  private destroy(resource: Resource): void {
    this.destroyInPool(resource);
    const waiter = this.nextHandoff();
    if (waiter !== undefined) this.acquireFor(waiter);
  }

  private waitForHandoff(deadline: number): Promise<Resource> {
    return new Promise<Resource>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject);
      this.wait(waiter, deadline);
      this.handoffs.push(waiter);
    });
  }

  /** Queues `waiter`'s timeout: the acquire timeout, or the statement's deadline if that comes first. */
  private wait(waiter: Waiter, deadline: number): void {
    const remaining = deadline - performance.now();
    if (remaining < this.acquireTimeoutMs) {
      waiter.statementDeadline = true;
      this.waits.addAt(waiter, Date.now() + Math.max(0, remaining));
    } else {
      this.waits.add(waiter);
    }
  }

  /** The longest-waiting caller that has not timed out, taken off the handoff queue. */
  private nextHandoff(): Waiter | undefined {
    const queue = this.handoffs;
    // The common case on every release: nobody waits (and setting an array's length is not free).
    if (queue.length === 0) return undefined;
    while (this.handoffHead < queue.length) {
      const waiter = queue[this.handoffHead]!;
      queue[this.handoffHead++] = undefined as unknown as Waiter;
      if (waiter.pending) {
        if (this.handoffHead === queue.length) {
          queue.length = 0;
          this.handoffHead = 0;
        }
        return waiter;
      }
    }
    queue.length = 0;
    this.handoffHead = 0;
    return undefined;
  }

  private acquireFor(waiter: Waiter): void {
    this.pool.acquire().then(
      (resource) => waiter.settle(lend(resource)),
      (error: unknown) => waiter.fail(error),
    );
  }

  private waitForResource(deadline: number): Promise<Resource> {
    return new Promise<Resource>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject);
      this.wait(waiter, deadline);
      this.acquireFor(waiter);
    });
  }

  /** @internal A waiter settled: off the timeout queue. */
  unqueue(waiter: Waiter): void {
    this.waits.remove(waiter);
  }

  /** @internal A resource that arrived after its caller gave up: straight on to the next one in line. */
  handBack(resource: Resource): void {
    if (resource instanceof FailedConnect) this.destroy(resource);
    else this.release(resource);
  }

  /** @internal */
  acquireFailure(error: unknown): Error {
    return this.closing ? new RouterClosedError() : this.unavailable(describeFailure(error), error);
  }

  private async ping(resource: PooledConnection, deadline: number): Promise<boolean> {
    const bound = Math.min(performance.now() + this.config.pool.pingTimeoutMs, deadline);
    try {
      return (await within(resource.connection.ping(), bound)) !== TIMED_OUT;
    } catch {
      return false;
    }
  }

  private async create(): Promise<Resource> {
    if (this.closing || this.breaker.isOpen(Date.now())) {
      return new FailedConnect(this.breaker.lastError, this.pool.pending === 0);
    }
    try {
      const connection = await this.connectWithin(this.config.pool.connectTimeoutMs);
      this.breaker.recordSuccess();
      const pooled = new PooledConnection(connection);
      this.live.add(pooled);
      const markBroken = () => {
        pooled.broken = true;
      };
      // Without an 'error' listener a socket failure between statements would crash the process.
      connection.on('error', markBroken);
      connection.on('end', markBroken);
      this.onConnected?.(connection, this.config.driver);
      return pooled;
    } catch (error) {
      this.breaker.recordFailure(Date.now(), error);
      return new FailedConnect(error, this.pool.pending === 0);
    }
  }

  /** The driver is asked to honour `connectTimeout`; this bound holds even if it does not. */
  private connectWithin(ms: number): Promise<DriverConnection> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(connectTimeoutError(this.name, ms));
      }, ms);
      this.config.driver.connect(this.connectOptions).then(
        (connection) => {
          clearTimeout(timer);
          if (settled) connection.destroy();
          else resolve(connection);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!settled) reject(error);
        },
      );
    });
  }

  private async destroyResource(resource: Resource): Promise<void> {
    if (resource instanceof FailedConnect) return;
    this.live.delete(resource);
    const { connection } = resource;
    if (resource.broken) {
      connection.destroy();
      return;
    }
    // A polite COM_QUIT when the connection is healthy, bounded so a hung server cannot stall close().
    try {
      await withinMs(connection.end(), 1_000);
    } catch {
      // Already closed: nothing to do.
    } finally {
      connection.destroy();
    }
  }
}

/** A caller waiting for a connection, with its acquire timeout. A class, so waiting allocates no closures. */
class Waiter implements Expirable {
  deadline = 0;
  queuePrev: Expirable | undefined = undefined;
  queueNext: Expirable | undefined = undefined;
  queued = false;
  pending = true;
  /** Expires at the statement's deadline rather than the acquire timeout. */
  statementDeadline = false;

  constructor(
    private readonly node: NodePool,
    private readonly resolve: (resource: Resource) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  expire(): void {
    this.pending = false;
    this.reject(
      this.statementDeadline
        ? this.node.pastDeadline()
        : new AcquireTimeoutError(this.node.name, this.node.acquireTimeoutMs),
    );
  }

  settle(resource: Resource): void {
    if (!this.pending) {
      this.node.handBack(resource);
      return;
    }
    this.pending = false;
    this.node.unqueue(this);
    this.resolve(resource);
  }

  fail(error: unknown): void {
    if (!this.pending) return;
    this.pending = false;
    this.node.unqueue(this);
    this.reject(this.node.acquireFailure(error));
  }
}
