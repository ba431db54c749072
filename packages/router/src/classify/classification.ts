import type { TransactionEffect } from './index.js';

/** Where a statement may run. */
export type RouteTarget = 'primary' | 'replica';

/** What `classify` decided about one SQL text, as data: testable, loggable, fit for a span attribute. */
export interface Classification {
  /** `replica` only for statements that are certainly read-only and side-effect free. */
  readonly target: RouteTarget;
  /** Short stable reason, e.g. `read`, `write`, `locking read`, `hint`, `unknown statement`. */
  readonly reason: string;
  /** True when the statement's effect lives in the connection (SET, USE, temp tables, locks, transactions ...). */
  readonly sessionState: boolean;
  /** The routing hint found in a `rwsplit:primary` or `rwsplit:replica` comment, if any. */
  readonly hint?: RouteTarget;
  /** First keyword of the statement, upper-cased (`SELECT`, `INSERT` ...), for `db.operation.name`; '' if none. */
  readonly operation: string;
  /** What the statement does to the connection's transaction; for several, the last one with an effect. */
  readonly transaction: TransactionEffect;
}
