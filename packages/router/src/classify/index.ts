import type { Classification } from './classification.js';
import { Lexer } from './lexer.js';
import { Scanner } from './scanner.js';
import { StatementReader } from './statement.js';
import { TOK_END } from './tokens.js';

/** Every reason `classify` gives, for metric labels and exhaustive handling. Stable: new ones get added, none renamed. */
export const CLASSIFY_REASONS = [
  /** Certainly read-only and free of side effects: the only reason that targets a replica. */
  'read',
  /** INSERT, UPDATE, DELETE, REPLACE, LOAD DATA/XML, IMPORT TABLE, WITH ... UPDATE/DELETE. */
  'write',
  /** CREATE, ALTER, DROP, RENAME, TRUNCATE (temporary tables are 'session state'). */
  'ddl',
  /** GRANT, REVOKE, CREATE/ALTER/RENAME/DROP USER and ROLE, SET PASSWORD, SET DEFAULT ROLE. */
  'dcl',
  /** ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM TABLE, FLUSH, RESET, PURGE, KILL, replication control ... */
  'admin',
  /** FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE (with NOWAIT, SKIP LOCKED, OF t ...). */
  'locking read',
  /** SELECT/TABLE ... INTO @var, OUTFILE or DUMPFILE, wherever the INTO stands. */
  'select into',
  /** LAST_INSERT_ID(), FOUND_ROWS(), ROW_COUNT(), lock functions, sequences, SQL_CALC_FOUND_ROWS, @@identity. */
  'primary-only function',
  /** Reads answered from this connection or about the primary: @var, SHOW WARNINGS, SHOW MASTER STATUS ... */
  'primary-only read',
  /** SET, USE, temporary tables, table locks (also FLUSH ... WITH READ LOCK), prepared statements, HANDLER, GET DIAGNOSTICS, `@var :=`. */
  'session state',
  /** BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE SAVEPOINT, XA, SET TRANSACTION, SET autocommit. */
  'transaction control',
  /** CALL, DO and MariaDB's BEGIN NOT ATOMIC: code whose effects the text does not show. */
  'procedure call',
  /** Plain EXPLAIN/DESCRIBE of INSERT/UPDATE/DELETE/REPLACE. */
  'explain of a write',
  /** EXPLAIN ANALYZE or MariaDB ANALYZE of a write: it runs the write. */
  'explain analyze of a write',
  /** More than one statement, at least one of which is not a replica read. */
  'multi-statement write',
  /** A statement the classifier does not know, which may do anything. */
  'unknown statement',
  /** Nothing but blanks, comments and semicolons. */
  'empty statement',
  /** A string, quoted identifier or comment that never ends, or whose end depends on the server's version or sql_mode. */
  'unterminated literal',
] as const;

export type ClassifyReason = (typeof CLASSIFY_REASONS)[number];

/**
 * Every transaction effect `classify` reports, for exhaustive handling. Each says what the statement
 * does to the connection's transaction if it succeeds; sessions track open transactions from these alone.
 */
export const TRANSACTION_EFFECTS = [
  /** No effect: most statements, CALL, SET TRANSACTION ... (it only sets the next transaction's characteristics). */
  'none',
  /** BEGIN [WORK], START TRANSACTION [READ WRITE | WITH CONSISTENT SNAPSHOT]: opens one, committing an open one. */
  'begin',
  /** START TRANSACTION with READ ONLY among its characteristics, in any order. */
  'begin-read-only',
  /** COMMIT [WORK] [AND NO CHAIN] [NO RELEASE] */
  'commit',
  /** ROLLBACK [WORK] [AND NO CHAIN] [NO RELEASE], not ROLLBACK ... TO ... */
  'rollback',
  /** COMMIT/ROLLBACK ... AND CHAIN: ends one and opens the next at once. */
  'chain',
  /** COMMIT/ROLLBACK ... RELEASE: ends one, then the server closes the connection. */
  'end-and-disconnect',
  /** SAVEPOINT x */
  'savepoint',
  /** RELEASE SAVEPOINT x */
  'release-savepoint',
  /** ROLLBACK [WORK] TO [SAVEPOINT] x: the transaction stays open. */
  'rollback-to',
  /** XA START|BEGIN xid */
  'xa-start',
  /** XA END, XA PREPARE: the XA transaction is still unresolved. */
  'xa-end',
  /** XA COMMIT xid [ONE PHASE] */
  'xa-commit',
  /** XA ROLLBACK xid */
  'xa-rollback',
  /** XA RECOVER: reads only. */
  'xa-recover',
  /**
   * Commits any open transaction before it runs: DDL except CREATE/DROP TEMPORARY TABLE, DCL, LOCK/UNLOCK
   * TABLES, ANALYZE/CHECK/OPTIMIZE/REPAIR TABLE, FLUSH, RESET, CACHE INDEX, LOAD INDEX, IMPORT TABLE,
   * replication control (START/STOP REPLICA, CHANGE MASTER / REPLICATION SOURCE ...), INSTALL/UNINSTALL,
   * CLONE, RESTART, MariaDB's BACKUP STAGE.
   */
  'implicit-commit',
  /** SET [SESSION] autocommit = 0|OFF, also @@autocommit or @@session.autocommit, alone or in a SET list. */
  'autocommit-off',
  /** SET [SESSION] autocommit = 1|ON: also commits an open transaction. */
  'autocommit-on',
] as const;

/** What a statement does to the connection's transaction: one of {@link TRANSACTION_EFFECTS}. */
export type TransactionEffect = (typeof TRANSACTION_EFFECTS)[number];

/** `Classification` with its reason narrowed to the documented set. */
export interface ClassifiedStatement extends Classification {
  readonly reason: ClassifyReason;
}

/**
 * Decides where a MySQL 8 / MariaDB 10.6+ SQL text may run, in one pass over the text without
 * parsing it. `target` is `replica` only for statements that are certainly read-only and free of
 * side effects: SELECT (also parenthesised, with UNION/INTERSECT/EXCEPT and subqueries), WITH
 * [RECURSIVE] that only reads, TABLE, VALUES, SHOW, DESCRIBE and EXPLAIN of such a read, and
 * EXPLAIN ANALYZE / MariaDB ANALYZE of one. Anything else, anything unknown and anything malformed
 * goes to the primary, with a `reason` from {@link CLASSIFY_REASONS}. A text of several statements
 * goes to a replica only if every one of them would; otherwise its reason is 'multi-statement write',
 * its sessionState is true if any statement's is, and its operation is the first statement's.
 *
 * `sessionState` is true when the statement leaves something behind in the connection (SET, USE,
 * temporary tables, table and named locks, prepared statements, user variables, transactions), so
 * that later statements must run on the same primary connection.
 *
 * `transaction` says what the statement does to the connection's transaction (see
 * {@link TRANSACTION_EFFECTS}), read from the same tokens as the rest, so comments, executable comments,
 * hints and case never change it. For several statements it is the effect of the last one that has one:
 * `BEGIN; INSERT ...` is 'begin', `INSERT ...; COMMIT` is 'commit', `COMMIT; BEGIN` is 'begin'. Earlier
 * effects are not reported, so `SET autocommit = 0; COMMIT` says 'commit' and `BEGIN; SAVEPOINT a` says
 * 'savepoint': a session that must not lose them should send such statements one at a time.
 *
 * Comments are skipped except MySQL's `/*! ... *\/` and MariaDB's `/*M! ... *\/`, whose content is
 * SQL whatever version number they carry. A comment containing `rwsplit:primary` or
 * `rwsplit:replica` (any case, blanks allowed around the colon) sets `hint`; `primary` wins if both
 * appear. The hint never changes `target` or `reason`: they keep describing the statement, so the
 * router can refuse a replica hint on a write with a typed error instead of running it there.
 *
 * Rules chosen where the servers or the issue leave room:
 * - Plain EXPLAIN/DESCRIBE of a read is routed like the read itself (so EXPLAIN SELECT ... FOR UPDATE
 *   goes to the primary); plain EXPLAIN of a write goes to the primary with 'explain of a write'
 *   although nothing runs, so that a statement mentioning a write never reaches a replica.
 * - Reading a user variable (`SELECT @x`) goes to the primary: the variable was set on a primary
 *   connection (assignments always go there) and is NULL on a replica. System variables read from a
 *   replica except those about the last statement or insert (@@identity, @@last_insert_id,
 *   @@insert_id, @@warning_count, @@error_count, @@last_gtid).
 * - SLEEP(), BENCHMARK(), UUID(), CONNECTION_ID() and the *_POS_WAIT / GTID wait functions are
 *   harmless on a replica and stay there. IS_FREE_LOCK() goes to the primary without session state
 *   (it only asks); LAST_INSERT_ID(expr) sets the value, so it is session state.
 * - Stored functions and UDFs cannot be told from built-ins without the catalog: a SELECT calling one
 *   that writes is classified as a read. Mark such queries with `/* rwsplit:primary *\/`.
 * - Every SET is session state, SET GLOBAL included (one SET can mix scopes; pinning is the safe
 *   mistake), except SET PASSWORD and SET DEFAULT ROLE ('dcl') and MariaDB's SET STATEMENT ... FOR
 *   <statement>, which is classified as its statement.
 * - CALL is session state only when a user variable is passed (it may be an OUT parameter); what the
 *   procedure does inside is not visible.
 * - Transaction effects describe the statement when it succeeds. Code whose body the text does not show
 *   (CALL, EXECUTE, EXECUTE IMMEDIATE, DO) is 'none', although it may begin or end a transaction. So is
 *   MariaDB's BEGIN NOT ATOMIC ... END, and with it everything after it in the text: its body may run
 *   COMMIT or START TRANSACTION conditionally, and its END is not looked for. A bare COMMIT or ROLLBACK
 *   is read under completion_type = NO_CHAIN (the default).
 * - 'implicit-commit' follows the MySQL 8 and MariaDB lists of statements that commit before they run.
 *   Where only one server commits, the effect is 'none' (a session that believes a transaction is still
 *   open stays pinned longer; one that believes it ended when it did not would lose it): SET DEFAULT ROLE
 *   (MySQL only), SHUTDOWN (MariaDB only), LOAD DATA (NDB only), START GROUP_REPLICATION. UNLOCK TABLES
 *   commits only when LOCK TABLES locks are held, and CREATE/DROP FUNCTION of a MariaDB UDF not at all; the
 *   text cannot tell, so both say 'implicit-commit'. CREATE/DROP TEMPORARY TABLE is 'none'; ALTER,
 *   TRUNCATE and CREATE INDEX commit even on temporary tables.
 * - SET autocommit = <a value the text does not show> (`@x`, DEFAULT, an expression) is 'autocommit-off':
 *   the connection may hold a transaction afterwards. SET GLOBAL / PERSIST autocommit is 'none'.
 * - Backslash escapes are assumed on (the default sql_mode, and what mysql2's client-side escaping
 *   assumes too), so `'O\'Brien'` is one string. A `"..."` literal containing `\"` is
 *   'unterminated literal': under ANSI_QUOTES it would be an identifier ending at that quote.
 *
 * Never throws; linear in the text's length.
 */
export function classify(sql: string): ClassifiedStatement {
  try {
    return typeof sql === 'string' ? classifyText(sql) : UNREADABLE;
  } catch {
    return UNREADABLE;
  }
}

const UNREADABLE: ClassifiedStatement = Object.freeze({
  target: 'primary',
  reason: 'unknown statement',
  sessionState: false,
  operation: '',
  transaction: 'none',
});

// Shared by every call: classification is synchronous and never calls out, so it cannot re-enter.
const lexer = new Lexer();
const reader = new StatementReader(new Scanner(lexer));

function classifyText(sql: string): ClassifiedStatement {
  lexer.reset(sql);
  let statements = 0;
  let replica = true;
  let sessionState = false;
  let reason: ClassifyReason = 'empty statement';
  let operation = '';
  let transaction: TransactionEffect = 'none';
  let inCompound = false;
  for (;;) {
    if (reader.read()) {
      inCompound ||= reader.compound;
      if (!inCompound && reader.transaction !== 'none') transaction = reader.transaction;
      if (statements === 0) {
        operation = reader.operation;
        reason = reader.reason;
      } else if (reader.target === 'primary' || !replica) {
        reason = 'multi-statement write';
      }
      statements++;
      replica &&= reader.target === 'replica';
      sessionState ||= reader.sessionState;
    }
    if (lexer.tok === TOK_END) break;
  }
  if (lexer.broken) reason = 'unterminated literal';
  const target = statements > 0 && replica && !lexer.broken ? 'replica' : 'primary';
  const hint = lexer.hint;
  return hint === undefined
    ? { target, reason, sessionState, operation, transaction }
    : { target, reason, sessionState, hint, operation, transaction };
}
