import { NotSupportedError } from '../errors.js';
import type { IsolationLevel } from '../transaction.js';

/**
 * Knex's transaction control statements, as knex 3's `Transaction` (lib/execution/transaction.js) writes
 * them on the connection it runs a transaction on:
 *
 * ```
 * control  = mode | begin | commit | rollback
 * mode     = "set transaction" [" isolation level " level] [" read only"] [";"]
 * level    = "read uncommitted" | "read committed" | "repeatable read" | "serializable" | "snapshot"
 * begin    = "begin" [";"]
 * commit   = "commit" [";"]
 * rollback = "rollback" [";"]
 * ```
 *
 * Matched after trimming and collapsing whitespace, case-insensitively, and nothing else: `SAVEPOINT trx2;`,
 * `RELEASE SAVEPOINT trx2;` and `ROLLBACK TO SAVEPOINT trx2` are not control statements here (they run
 * inside the transaction as they are). Knex joins an isolation level and READ ONLY with a space, which
 * MySQL itself would reject (it wants a comma); the router sets both, its own way.
 */
export type KnexControl =
  | { readonly kind: 'mode'; readonly readOnly: boolean; readonly isolationLevel?: IsolationLevel }
  | { readonly kind: 'begin' }
  | { readonly kind: 'commit' }
  | { readonly kind: 'rollback' };

const LEVELS: ReadonlyMap<string, IsolationLevel> = new Map([
  ['read uncommitted', 'READ UNCOMMITTED'],
  ['read committed', 'READ COMMITTED'],
  ['repeatable read', 'REPEATABLE READ'],
  ['serializable', 'SERIALIZABLE'],
]);

const BEGIN: KnexControl = { kind: 'begin' };
const COMMIT: KnexControl = { kind: 'commit' };
const ROLLBACK: KnexControl = { kind: 'rollback' };
const MODE = 'set transaction';
const LEVEL = ' isolation level ';
const READ_ONLY = ' read only';
// Every statement of a knex transaction passes through here: the length test keeps the normalisation off
// the longer ones (the longest control statement is under 60 characters, a little more with odd spacing).
const MAX_CONTROL_LENGTH = 96;

/**
 * The control statement `sql` is, or undefined for every other statement. Throws `NotSupportedError` only
 * for knex's `snapshot` level, which MySQL and MariaDB do not have.
 */
export function knexControl(sql: string): KnexControl | undefined {
  if (sql.length > MAX_CONTROL_LENGTH) return undefined;
  let text = sql.trim().replace(/\s+/g, ' ').toLowerCase();
  if (text.endsWith(';')) text = text.slice(0, -1).trimEnd();
  switch (text) {
    case 'begin':
      return BEGIN;
    case 'commit':
      return COMMIT;
    case 'rollback':
      return ROLLBACK;
  }
  return text.startsWith(MODE) ? modeOf(text.slice(MODE.length)) : undefined;
}

function modeOf(rest: string): KnexControl | undefined {
  const readOnly = rest.endsWith(READ_ONLY);
  const characteristics = readOnly ? rest.slice(0, -READ_ONLY.length) : rest;
  if (characteristics === '') return readOnly ? { kind: 'mode', readOnly } : undefined;
  if (!characteristics.startsWith(LEVEL)) return undefined;
  const name = characteristics.slice(LEVEL.length);
  const isolationLevel = LEVELS.get(name);
  if (isolationLevel !== undefined) return { kind: 'mode', readOnly, isolationLevel };
  if (name === 'snapshot') {
    throw new NotSupportedError(
      "Knex's isolationLevel 'snapshot'",
      'MySQL and MariaDB have no such level',
      "Use 'repeatable read' (InnoDB's consistent snapshot reads) or another level they have.",
    );
  }
  return undefined;
}
