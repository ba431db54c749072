import type { ReadYourWrites } from './consistency/read-your-writes.js';
import type { Engine, Lease } from './engine.js';
import { AcquireTimeoutError } from './errors.js';
import { DeadlinePassed, NodeUnavailable, nameFailure } from './node-failure.js';
import { type PlacementTarget, placeRead } from './placement.js';
import type { NodePool, PooledConnection } from './pool.js';
import { decideRoute, type Route } from './route.js';

/**
 * Takes the connection a transaction or pinned session will hold, by the same placement rules as a
 * statement: the primary, or for a read-only transaction a replica that satisfies the session's
 * consistency; a replica that cannot be reached is skipped once (nothing has run on it yet).
 */
export class LeaseTaker implements PlacementTarget {
  readonly current = 1;
  private node: NodePool | undefined;
  private pooled: PooledConnection | undefined;
  private route: Route;

  constructor(
    private readonly engine: Engine,
    private readonly readOnly: boolean,
    reason: string,
  ) {
    this.route = decideRoute(
      {
        target: readOnly ? 'replica' : 'primary',
        reason,
        sessionState: false,
        operation: '',
        transaction: 'none',
      },
      undefined,
      'hint',
    );
  }

  async take(scope: ReadYourWrites | undefined, deadline: number): Promise<Lease> {
    const wanted = this.route;
    if (!this.readOnly) {
      const primary = this.engine.primary;
      try {
        return { node: primary, connection: await primary.acquire(deadline), route: wanted };
      } catch (error) {
        throw this.named(error, 'primary');
      }
    }
    let failed: NodePool | undefined;
    for (;;) {
      try {
        await placeRead(this.engine, this, wanted, scope, failed, deadline, this.current);
      } catch (error) {
        const node = this.node;
        if (
          error instanceof NodeUnavailable &&
          failed === undefined &&
          node !== undefined &&
          node !== this.engine.primary
        ) {
          failed = node;
          this.route = wanted;
          continue;
        }
        throw this.named(error, this.route.target);
      }
      const { node, pooled } = this;
      if (node === undefined || pooled === undefined) throw new Error('placement took no connection');
      return { node, connection: pooled, route: this.route };
    }
  }

  /** The public error for a failure to take the connection. */
  private named(error: unknown, target: 'primary' | 'replica'): unknown {
    if (error instanceof DeadlinePassed) {
      return new AcquireTimeoutError(error.node, this.engine.config.pool.acquireTimeoutMs);
    }
    return nameFailure(error, target);
  }

  choose(node: NodePool, route: Route): void {
    this.node = node;
    this.route = route;
  }

  holds(_attempt: number, node: NodePool, pooled: PooledConnection, route?: Route): boolean {
    this.node = node;
    this.pooled = pooled;
    if (route !== undefined) this.route = route;
    return true;
  }

  letGo(): void {
    if (this.node !== undefined && this.pooled !== undefined) this.node.release(this.pooled);
    this.pooled = undefined;
  }
}
