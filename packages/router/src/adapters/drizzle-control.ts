import type { IsolationLevel } from '../transaction.js';

/**
 * Drizzle's transaction control statements, as drizzle-orm's MySQL session writes them
 * (`MySqlSession.getSetTransactionSQL` / `getStartTransactionSQL`, and `begin`, `commit`, `rollback` in
 * `MySql2Session.transaction`):
 *
 * ```
 * control   = isolation | start | commit | rollback
 * isolation = "set transaction isolation level " level
 * level     = "read uncommitted" | "read committed" | "repeatable read" | "serializable"
 * start     = "begin" | "start transaction" [" with consistent snapshot"] [" read only" | " read write"]
 * commit    = "commit"
 * rollback  = "rollback"
 * ```
 *
 * Matched after trimming and collapsing whitespace, case-insensitively, and nothing else: `rollback to
 * savepoint sp1`, `commit and chain` or `start transaction read only, with consistent snapshot` are not
 * control statements here (savepoints run inside the transaction as they are).
 */
export type DrizzleControl =
  | { readonly kind: 'isolation'; readonly level: IsolationLevel }
  | { readonly kind: 'start'; readonly readOnly: boolean; readonly consistentSnapshot: boolean }
  | { readonly kind: 'commit' }
  | { readonly kind: 'rollback' };

const LEVELS: ReadonlyMap<string, IsolationLevel> = new Map([
  ['read uncommitted', 'READ UNCOMMITTED'],
  ['read committed', 'READ COMMITTED'],
  ['repeatable read', 'REPEATABLE READ'],
  ['serializable', 'SERIALIZABLE'],
]);

const ISOLATION = 'set transaction isolation level ';
const START = 'start transaction';
const SNAPSHOT = ' with consistent snapshot';
const COMMIT: DrizzleControl = { kind: 'commit' };
const ROLLBACK: DrizzleControl = { kind: 'rollback' };
const BEGIN: DrizzleControl = { kind: 'start', readOnly: false, consistentSnapshot: false };

// Every statement of a Drizzle transaction passes through here: the length test keeps the normalisation off
// the longer ones (the longest control statement is under 70 characters, a little more with odd spacing).
const MAX_CONTROL_LENGTH = 96;

/** The control statement `sql` is, or undefined for every other statement. Never throws. */
export function drizzleControl(sql: string): DrizzleControl | undefined {
  if (sql.length > MAX_CONTROL_LENGTH) return undefined;
  const text = sql.trim().replace(/\s+/g, ' ').toLowerCase();
  switch (text) {
    case 'begin':
      return BEGIN;
    case 'commit':
      return COMMIT;
    case 'rollback':
      return ROLLBACK;
  }
  if (text.startsWith(ISOLATION)) {
    const level = LEVELS.get(text.slice(ISOLATION.length));
    return level === undefined ? undefined : { kind: 'isolation', level };
  }
  if (text.startsWith(START)) return startOf(text.slice(START.length));
  return undefined;
}

function startOf(rest: string): DrizzleControl | undefined {
  const consistentSnapshot = rest.startsWith(SNAPSHOT);
  const access = consistentSnapshot ? rest.slice(SNAPSHOT.length) : rest;
  if (access === '') return { kind: 'start', readOnly: false, consistentSnapshot };
  if (access === ' read only') return { kind: 'start', readOnly: true, consistentSnapshot };
  if (access === ' read write') return { kind: 'start', readOnly: false, consistentSnapshot };
  return undefined;
}
