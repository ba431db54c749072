import type { Classification, RouteTarget } from './classify/classification.js';
import { HintRefusedError } from './errors.js';

/** Where one statement goes and why: data, so it can be tested, logged and put on a span. */
export interface Route {
  readonly target: RouteTarget;
  /** The classifier's reason (`read`, `write`, `locking read` ...), or `hint`, `target option`, `transaction` ... */
  readonly reason: string;
  /** Set when a read ran on the primary although it asked for a replica: why (`no healthy replica`, `replica failed`). */
  readonly fallback?: string;
}

/** How a caller asked for a target: a `/* rwsplit:... *\/` comment, or the `target` call option. */
export type RequestedVia = 'hint' | 'target option';

// Routes are interned: the few target × reason pairs are built once, so routing allocates nothing.
const interned: Record<RouteTarget, Map<string, Route>> = { primary: new Map(), replica: new Map() };

export function route(target: RouteTarget, reason: string): Route {
  const byReason = interned[target];
  let found = byReason.get(reason);
  if (found === undefined) {
    found = Object.freeze({ target, reason });
    byReason.set(reason, found);
  }
  return found;
}

/** The same route, run on the primary instead of a replica. Rare, so not interned. */
export function fallbackRoute(from: Route, why: string): Route {
  return Object.freeze({ target: 'primary', reason: from.reason, fallback: why });
}

/**
 * Decides a statement's target from its classification and an optional request. A request for the
 * primary always wins; a request for a replica wins only for statements the classifier says may run
 * on one: anything else is refused, never run on a replica.
 */
export function decideRoute(
  classification: Classification,
  requested: RouteTarget | undefined,
  via: RequestedVia,
): Route {
  if (requested === undefined) return route(classification.target, classification.reason);
  if (requested === 'replica' && classification.target !== 'replica') {
    throw new HintRefusedError(classification.operation, classification.reason, via);
  }
  return route(requested, via);
}
