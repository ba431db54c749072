import type { ClassifyReason } from './index.js';
import { SESSION_EFFECTS, Seen } from './scanner.js';

/** What a statement is, from its leading words; the scanner's findings refine it into a verdict. */
export const Kind = {
  /** SELECT, WITH, TABLE, VALUES, SHOW, DESCRIBE, HELP: a read unless the findings say otherwise. */
  Read: 0,
  /** A read answered from this connection or about the primary: SHOW WARNINGS, SHOW MASTER STATUS ... */
  ConnectionRead: 1,
  Write: 2,
  Ddl: 3,
  Dcl: 4,
  Admin: 5,
  Session: 6,
  /** SET: session state, or transaction control if it names TRANSACTION or AUTOCOMMIT. */
  Set: 7,
  Transaction: 8,
  Call: 9,
  Do: 10,
  /** MariaDB BEGIN NOT ATOMIC ... END */
  Compound: 11,
  /** FLUSH: administration, or session state when it takes a lock. */
  Flush: 12,
  Unknown: 13,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Whether the statement came wrapped in EXPLAIN/DESCRIBE (which does not run it) or in an ANALYZE that does. */
export const Explain = { None: 0, Plain: 1, Analyze: 2 } as const;
export type Explain = (typeof Explain)[keyof typeof Explain];

/** Why a statement of this kind, with these findings, goes where it goes; only 'read' means a replica. */
export function reasonFor(kind: Kind, seen: number, explain: Explain): ClassifyReason {
  switch (kind) {
    case Kind.Read: {
      const reason = readReason(seen);
      return reason === 'write' ? writeReason(explain) : reason;
    }
    case Kind.Write:
      return writeReason(explain);
    case Kind.ConnectionRead:
      return 'primary-only read';
    case Kind.Ddl:
      return 'ddl';
    case Kind.Dcl:
      return 'dcl';
    case Kind.Admin:
      return 'admin';
    case Kind.Set:
      return seen & Seen.TransactionWord ? 'transaction control' : 'session state';
    case Kind.Session:
      return 'session state';
    case Kind.Transaction:
      return 'transaction control';
    case Kind.Call:
    case Kind.Do:
    case Kind.Compound:
      return 'procedure call';
    case Kind.Flush: // FLUSH TABLES WITH READ LOCK / FOR EXPORT hold locks for the connection
      return seen & (Seen.LockWord | Seen.ExportWord) ? 'session state' : 'admin';
    default:
      return 'unknown statement';
  }
}

/** Whether the statement leaves something in the connection that later statements depend on. */
export function sessionStateFor(kind: Kind, seen: number, reason: ClassifyReason): boolean {
  switch (kind) {
    case Kind.Set:
    case Kind.Session:
    case Kind.Transaction:
    case Kind.Compound:
      return true;
    case Kind.Call: // a user variable passed to CALL may be an OUT parameter
      return (seen & (SESSION_EFFECTS | Seen.ConnectionRead)) !== 0;
    case Kind.Flush:
      return reason === 'session state';
    default:
      return (seen & SESSION_EFFECTS) !== 0;
  }
}

function writeReason(explain: Explain): ClassifyReason {
  if (explain === Explain.Plain) return 'explain of a write';
  if (explain === Explain.Analyze) return 'explain analyze of a write';
  return 'write';
}

/** Why a query-shaped statement (SELECT, WITH, TABLE, VALUES, SHOW ...) must leave the replicas, or 'read'. */
function readReason(seen: number): ClassifyReason {
  if (seen & Seen.WriteWord) return 'write';
  if (seen & (Seen.LockingClause | Seen.LockWord)) return 'locking read';
  if (seen & Seen.Into) return 'select into';
  if (seen & Seen.VariableAssigned) return 'session state';
  if (seen & (Seen.PrimaryFunction | Seen.SessionFunction)) return 'primary-only function';
  if (seen & Seen.ConnectionRead) return 'primary-only read';
  return 'read';
}
