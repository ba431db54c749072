import genericPool from 'generic-pool';
import { CircuitBreaker } from './circuit-breaker.js';
import { describeFailure } from './connection-failure.js';
import type { Driver, DriverConnection, DriverConnectOptions } from './driver.js';
import {
  AcquireTimeoutError,
  PrimaryUnavailableError,
  ReplicaUnavailableError,
  RouterClosedError,
  type RwsplitError,
} from './errors.js';
import type { ResolvedConfig, ResolvedNode } from './resolve-config.js';
import type { Candidate } from './select.js';
import { type Expirable, TimeoutQueue } from './timeout-queue.js';

export type NodeRole = 'primary' | 'replica';

/** A live connection on loan from a node's pool. */
export class PooledConnection {
  /** Set when the socket closed or failed; such a connection is destroyed, never reused. */
  broken = false;
  /** When it was last returned to the pool (epoch ms): decides whether it is pinged before reuse. */
  lastUsedAt: number;

  constructor(readonly connection: DriverConnection) {
    this.lastUsedAt = Date.now();
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
export class NodePool implements Candidate {
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

  constructor(
    node: ResolvedNode,
    readonly role: NodeRole,
    private readonly config: ResolvedConfig,
    private readonly onConnected?: (connection: DriverConnection, driver: Driver) => void,
  ) {
    this.name = node.name;
    this.host = node.host;
    this.port = node.port;
    this.weight = node.weight;
    this.acquireTimeoutMs = config.pool.acquireTimeoutMs;
    this.breaker = new CircuitBreaker(config.circuitBreaker);
    this.waits = new TimeoutQueue(config.pool.acquireTimeoutMs);
    this.connectOptions = Object.freeze({
      ...config.connection,
      host: node.host,
      port: node.port,
      connectTimeout: config.pool.connectTimeoutMs,
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

  stats(): PoolStats {
    let waiting = 0;
    for (let i = this.handoffHead; i < this.handoffs.length; i++) if (this.handoffs[i]!.pending) waiting++;
    return { idle: this.pool.available, used: this.pool.borrowed, pending: this.pool.pending + waiting };
  }

  /**
   * A healthy connection: skips connections known broken, pings one idle past `validateAfterIdleMs`,
   * fails fast while the breaker is open. Throws `PrimaryUnavailableError`/`ReplicaUnavailableError`,
   * `AcquireTimeoutError` or `RouterClosedError`; never a raw driver error.
   */
  async acquire(): Promise<PooledConnection> {
    const resource = await this.checkout();
    return this.usable(resource) ?? this.recover(resource);
  }

  /**
   * The hot path, split so the router can inline it: `checkout()` is generic-pool's own promise when
   * a connection is idle (no timer, no wrapper), `usable()` a synchronous check of what came back;
   * anything unusable goes through `recover()`.
   */
  checkout(): Promise<Resource> {
    if (this.closing) return Promise.reject(new RouterClosedError());
    if (this.breaker.retryAt !== 0) {
      const now = Date.now();
      if (this.breaker.isOpen(now)) return Promise.reject(this.breakerOpenError(now));
    }
    // An idle resource is handed over inside acquire(); only a caller that will wait needs a timeout.
    if (this.pool.available > 0) return this.pool.acquire();
    // Every connection is on loan and none may be added: wait for one to be handed over on release.
    if (this.pool.spareResourceCapacity <= 0) return this.waitForHandoff();
    return this.waitForResource();
  }

  /** The connection itself if it can be used as it is, else undefined (see `recover`). */
  usable(resource: Resource): PooledConnection | undefined {
    if (resource instanceof FailedConnect || resource.broken) return undefined;
    const validateAfterIdleMs = this.config.pool.validateAfterIdleMs;
    return Date.now() - resource.lastUsedAt <= validateAfterIdleMs ? resource : undefined;
  }

  /** Handles what `usable` turned down: reports a failed connect, replaces broken or stale connections. */
  async recover(first: Resource): Promise<PooledConnection> {
    let resource = first;
    for (let attempt = 0; ; attempt++) {
      if (resource instanceof FailedConnect) {
        this.destroy(resource);
        if (!resource.orphan || attempt > this.config.pool.max) {
          throw this.unavailable(describeFailure(resource.error), resource.error);
        }
      } else if (!resource.broken && (await this.ping(resource))) {
        return resource;
      } else {
        resource.broken = true;
        this.destroy(resource);
        if (attempt > this.config.pool.max) throw this.unavailable('connections keep failing validation');
      }
      resource = await this.checkout();
      const ready = this.usable(resource);
      if (ready !== undefined) return ready;
    }
  }

  /**
   * Returns a connection: straight to the longest-waiting caller if there is one (it stays on loan,
   * skipping generic-pool's release/acquire round), else to the pool; destroyed if it broke.
   */
  release(connection: PooledConnection): void {
    if (!this.pool.isBorrowedResource(connection)) return;
    if (connection.broken) {
      this.destroy(connection);
      return;
    }
    connection.lastUsedAt = Date.now();
    const waiter = this.nextHandoff();
    if (waiter === undefined) void this.pool.release(connection);
    else waiter.settle(connection);
  }

  /** Destroys a connection whose state cannot be trusted any more. */
  discard(connection: PooledConnection): void {
    connection.broken = true;
    if (!this.pool.isBorrowedResource(connection)) return;
    this.destroy(connection);
  }

  /** Waits for connections on loan to come back, then closes them all. */
  async close(): Promise<void> {
    this.closing = true;
    await this.pool.drain();
    await this.pool.clear();
    this.waits.clear();
  }

  unavailable(detail: string, cause?: unknown): RwsplitError {
    return this.role === 'primary'
      ? new PrimaryUnavailableError(this.name, detail, cause)
      : new ReplicaUnavailableError(this.name, detail, cause);
  }

  private breakerOpenError(now: number): RwsplitError {
    const failures = this.breaker.consecutiveFailures;
    const waitMs = this.breaker.retryAt - now;
    return this.unavailable(
      `${failures} connects failed in a row, last ${describeFailure(this.breaker.lastError)}; next attempt in ${waitMs} ms`,
      this.breaker.lastError,
    );
  }

  /** Destroys a resource on loan; its slot goes to a caller waiting for a handoff, if any. */
  private destroy(resource: Resource): void {
    void this.pool.destroy(resource);
    const waiter = this.nextHandoff();
    if (waiter !== undefined) this.acquireFor(waiter);
  }

  private waitForHandoff(): Promise<Resource> {
    return new Promise<Resource>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject);
      this.waits.add(waiter);
      this.handoffs.push(waiter);
    });
  }

  /** The longest-waiting caller that has not timed out, taken off the handoff queue. */
  private nextHandoff(): Waiter | undefined {
    const queue = this.handoffs;
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
      (resource) => waiter.settle(resource),
      (error: unknown) => waiter.fail(error),
    );
  }

  private waitForResource(): Promise<Resource> {
    return new Promise<Resource>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject);
      this.waits.add(waiter);
      this.acquireFor(waiter);
    });
  }

  /** @internal A resource that arrived after its caller gave up: straight on to the next one in line. */
  handBack(resource: Resource): void {
    if (resource instanceof FailedConnect) this.destroy(resource);
    else this.release(resource);
  }

  /** @internal */
  acquireFailure(error: unknown): RwsplitError {
    return this.closing ? new RouterClosedError() : this.unavailable(describeFailure(error), error);
  }

  private async ping(resource: PooledConnection): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(reject, this.config.pool.pingTimeoutMs, new Error('ping timed out'));
    });
    try {
      await Promise.race([resource.connection.ping(), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
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
    const { connection } = resource;
    if (resource.broken) {
      connection.destroy();
      return;
    }
    // A polite COM_QUIT when the connection is healthy, bounded so a hung server cannot stall close().
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1_000);
    });
    try {
      await Promise.race([connection.end(), bound]);
    } catch {
      // Already closed: nothing to do.
    } finally {
      clearTimeout(timer);
      connection.destroy();
    }
  }
}

/** A caller waiting for a connection, with its acquire timeout. A class, so waiting allocates no closures. */
class Waiter implements Expirable {
  deadline = 0;
  pending = true;

  constructor(
    private readonly node: NodePool,
    private readonly resolve: (resource: Resource) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  expire(): void {
    this.pending = false;
    this.reject(new AcquireTimeoutError(this.node.name, this.node.acquireTimeoutMs));
  }

  settle(resource: Resource): void {
    if (!this.pending) {
      this.node.handBack(resource);
      return;
    }
    this.pending = false;
    this.resolve(resource);
  }

  fail(error: unknown): void {
    if (!this.pending) return;
    this.pending = false;
    this.reject(this.node.acquireFailure(error));
  }
}
