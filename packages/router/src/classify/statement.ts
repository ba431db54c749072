import type { RouteTarget } from './classification.js';
import type { ClassifyReason, TransactionEffect } from './index.js';
import type { Keyword } from './keywords.js';
import type { Scanner } from './scanner.js';
import { TOK_END, TOK_IDENT, TOK_LPAREN, TOK_OTHER, TOK_SEMI, TOK_WORD } from './tokens.js';
import {
  autocommitEffect,
  endEffect,
  releaseEffect,
  savepointEffect,
  startEffect,
  xaEffect,
} from './transaction-effect.js';
import { Explain, Kind, reasonFor, sessionStateFor } from './verdict.js';

/**
 * Reads one statement after another from a scanner and leaves each verdict in its fields.
 * Only the leading words are interpreted here (a few tokens, no grammar); the rest of the
 * statement is scanned for findings that any statement can contain.
 */
export class StatementReader {
  target: RouteTarget = 'primary';
  reason: ClassifyReason = 'unknown statement';
  sessionState = false;
  /** First word, upper-cased; '' when the statement starts with something else. */
  operation = '';
  transaction: TransactionEffect = 'none';
  /** MariaDB's BEGIN NOT ATOMIC: what follows in the text may be its body, up to an END not looked for. */
  compound = false;
  private explain: Explain = Explain.None;

  constructor(private readonly scanner: Scanner) {}

  /** Reads the next statement; false if it was empty (only blanks and comments before `;` or the end). */
  read(): boolean {
    const scanner = this.scanner;
    scanner.reset();
    this.explain = Explain.None;
    this.transaction = 'none';
    let tok = scanner.take();
    if (tok === TOK_SEMI || tok === TOK_END) return false;
    let parenthesised = false;
    while (tok === TOK_LPAREN) {
      parenthesised = true;
      tok = scanner.take();
    }
    let kind: Kind = Kind.Unknown;
    this.operation = '';
    if (tok === TOK_WORD) {
      const kw = scanner.lexer.kw;
      this.operation = kw !== '' ? kw : this.wordAsOperation();
      kind = parenthesised ? (startsQuery(kw) ? Kind.Read : Kind.Unknown) : this.dispatch(kw);
    }
    scanner.drain();
    this.reason = reasonFor(kind, scanner.seen, this.explain);
    this.target = this.reason === 'read' ? 'replica' : 'primary';
    this.sessionState = sessionStateFor(kind, scanner.seen, this.reason);
    this.compound = kind === Kind.Compound;
    return true;
  }

  private wordAsOperation(): string {
    const { text, start, end } = this.scanner.lexer;
    const first = text.charCodeAt(start) | 0x20;
    // A word no statement starts with: name it only if it looks like a keyword, and keep it short.
    if (first < 97 || first > 122 || end - start > 32) return '';
    return text.slice(start, end).toUpperCase();
  }

  private dispatch(kw: Keyword | ''): Kind {
    switch (kw) {
      case 'SELECT':
      case 'WITH': // WITH ... UPDATE/DELETE shows up as a write word
      case 'TABLE':
      case 'VALUES':
      case 'HELP':
        return Kind.Read;
      case 'SHOW':
        return this.show();
      case 'EXPLAIN':
      case 'DESCRIBE':
      case 'DESC':
        return this.explainStatement(Explain.Plain);
      case 'ANALYZE':
        return this.analyze();
      case 'INSERT':
      case 'UPDATE':
      case 'DELETE':
      case 'REPLACE':
        return Kind.Write;
      case 'LOAD': // LOAD INDEX INTO CACHE commits; LOAD DATA and LOAD XML do not
        this.scanner.take();
        if (this.scanner.lexer.spells('INDEX')) this.transaction = 'implicit-commit';
        return Kind.Write;
      case 'IMPORT': // MySQL 8's IMPORT TABLE
        return this.committing(Kind.Write);
      case 'CALL':
        return Kind.Call;
      case 'DO':
        return Kind.Do;
      case 'CREATE':
        return this.create();
      case 'DROP':
        return this.drop();
      case 'ALTER':
      case 'RENAME':
        return this.committing(this.scanner.takeKeyword() === 'USER' ? Kind.Dcl : Kind.Ddl);
      case 'TRUNCATE': // even of a temporary table
        return this.committing(Kind.Ddl);
      case 'GRANT':
      case 'REVOKE':
        return this.committing(Kind.Dcl);
      case 'SET':
        return this.set();
      case 'LOCK': // LOCK TABLES, LOCK INSTANCE FOR BACKUP
      case 'UNLOCK': {
        const what = this.scanner.takeKeyword();
        return what === 'TABLES' || what === 'TABLE' ? this.committing(Kind.Session) : Kind.Session;
      }
      case 'USE':
      case 'PREPARE':
      case 'EXECUTE': // also MariaDB's EXECUTE IMMEDIATE
      case 'DEALLOCATE':
      case 'HANDLER': // an open handler lives in the connection
        return Kind.Session;
      case 'BEGIN': // BEGIN NOT ATOMIC ... END is a MariaDB compound statement, not a transaction
        if (this.scanner.takeKeyword() === 'NOT') return Kind.Compound;
        this.transaction = 'begin';
        return Kind.Transaction;
      case 'START':
        if (this.scanner.takeKeyword() === 'TRANSACTION') {
          this.transaction = startEffect(this.scanner);
          return Kind.Transaction;
        }
        return this.replicationControl(false);
      case 'STOP':
        this.scanner.take();
        return this.replicationControl(true);
      case 'COMMIT':
      case 'ROLLBACK':
        this.transaction = endEffect(this.scanner, kw);
        return Kind.Transaction;
      case 'SAVEPOINT':
        this.transaction = savepointEffect(this.scanner);
        return Kind.Transaction;
      case 'RELEASE':
        this.transaction = releaseEffect(this.scanner);
        return Kind.Transaction;
      case 'XA':
        this.transaction = xaEffect(this.scanner);
        return Kind.Transaction;
      case 'FLUSH':
        return this.committing(Kind.Flush);
      case 'OPTIMIZE':
      case 'REPAIR':
      case 'CHECK':
      case 'RESTART':
      case 'INSTALL':
      case 'UNINSTALL':
      case 'CHANGE': // CHANGE MASTER, CHANGE REPLICATION SOURCE | FILTER
      case 'CACHE':
      case 'CLONE':
        return this.committing(Kind.Admin);
      case 'RESET': // except MySQL's RESET PERSIST
        return this.scanner.takeKeyword() === 'PERSIST' ? Kind.Admin : this.committing(Kind.Admin);
      case 'BACKUP': // MariaDB: BACKUP STAGE commits, BACKUP LOCK does not
        this.scanner.take();
        return this.scanner.lexer.spells('STAGE') ? this.committing(Kind.Admin) : Kind.Admin;
      case 'CHECKSUM':
      case 'PURGE':
      case 'KILL':
      case 'SHUTDOWN':
      case 'BINLOG':
        return Kind.Admin;
      case 'GET': {
        // GET [CURRENT | STACKED] DIAGNOSTICS @n = NUMBER reads this connection's diagnostics into variables
        const next = this.scanner.takeKeyword();
        return next === 'DIAGNOSTICS' || next === 'CURRENT' || next === 'STACKED'
          ? Kind.Session
          : Kind.Unknown;
      }
      default:
        return Kind.Unknown;
    }
  }

  /** Marks the statement as one that commits an open transaction before it runs. */
  private committing(kind: Kind): Kind {
    this.transaction = 'implicit-commit';
    return kind;
  }

  /** START or STOP of replication (REPLICA, SLAVE, MariaDB's ALL SLAVES) commits: the current token says. */
  private replicationControl(stop: boolean): Kind {
    const lexer = this.scanner.lexer;
    // STOP GROUP_REPLICATION commits after it runs, not before: the transaction ends just the same.
    const commits =
      lexer.spells('REPLICA') ||
      lexer.spells('SLAVE') ||
      lexer.spells('ALL') ||
      (stop && lexer.spells('GROUP_REPLICATION'));
    return commits ? this.committing(Kind.Admin) : Kind.Admin;
  }

  private show(): Kind {
    switch (this.scanner.takeKeyword()) {
      case 'WARNINGS': // about the last statement on this connection
      case 'ERRORS':
      case 'COUNT':
      case 'PROFILE':
      case 'PROFILES':
      case 'MASTER': // the primary's binary log position
      case 'BINARY':
      case 'BINLOG':
      case 'EXPLAIN': // MariaDB SHOW EXPLAIN|ANALYZE FOR <connection id>
      case 'ANALYZE':
        return Kind.ConnectionRead;
      default:
        return Kind.Read;
    }
  }

  /** After EXPLAIN / DESCRIBE / DESC: options, then a statement or a table name. */
  private explainStatement(mode: Explain): Kind {
    const scanner = this.scanner;
    this.explain = mode;
    for (;;) {
      if (scanner.ended) return this.explain === Explain.Analyze ? Kind.Unknown : Kind.Read;
      const tok = scanner.take();
      if (tok === TOK_LPAREN) return Kind.Read; // EXPLAIN (SELECT ...)
      if (tok !== TOK_WORD)
        return tok === TOK_IDENT && this.explain === Explain.Plain ? Kind.Read : Kind.Unknown;
      const kw = scanner.lexer.kw;
      switch (kw) {
        case 'ANALYZE':
          this.explain = Explain.Analyze;
          continue;
        case 'FORMAT': // FORMAT = JSON
          if (scanner.take() === TOK_OTHER) scanner.take();
          continue;
        case 'EXTENDED':
        case 'PARTITIONS':
          continue;
        case 'INTO': // MySQL 8.3: EXPLAIN FORMAT=JSON INTO @var <statement>
          scanner.take();
          continue;
        case 'FOR': // FOR CONNECTION <id>: another connection on this node
          return Kind.ConnectionRead;
        default: {
          const inner = explainable(kw);
          if (inner !== undefined) return inner;
          // DESCRIBE <table>: nothing runs. EXPLAIN ANALYZE needs a statement it can run.
          return this.explain === Explain.Plain ? Kind.Read : Kind.Unknown;
        }
      }
    }
  }

  /** MariaDB: ANALYZE <statement> runs it; ANALYZE TABLE is maintenance. */
  private analyze(): Kind {
    const scanner = this.scanner;
    const tok = scanner.take();
    if (tok === TOK_LPAREN) {
      this.explain = Explain.Analyze;
      return Kind.Read;
    }
    const kw = tok === TOK_WORD ? scanner.lexer.kw : '';
    if (kw === 'TABLE' || kw === 'TABLES' || kw === 'NO_WRITE_TO_BINLOG' || kw === 'LOCAL')
      return this.committing(Kind.Admin);
    if (kw === 'FORMAT') {
      if (scanner.take() === TOK_OTHER) scanner.take();
      return this.explainStatement(Explain.Analyze);
    }
    const inner = explainable(kw);
    if (inner === undefined) return Kind.Unknown;
    this.explain = Explain.Analyze;
    return inner;
  }

  private create(): Kind {
    let kw = this.scanner.takeKeyword();
    if (kw === 'OR') {
      this.scanner.takeKeyword(); // REPLACE
      kw = this.scanner.takeKeyword();
    }
    if (kw === 'TEMPORARY') return Kind.Session; // MariaDB also has temporary sequences; neither commits
    return this.committing(kw === 'USER' || kw === 'ROLE' ? Kind.Dcl : Kind.Ddl);
  }

  private drop(): Kind {
    const kw = this.scanner.takeKeyword();
    if (kw === 'TEMPORARY' || kw === 'PREPARE') return Kind.Session;
    return this.committing(kw === 'USER' || kw === 'ROLE' ? Kind.Dcl : Kind.Ddl);
  }

  private set(): Kind {
    const scanner = this.scanner;
    switch (scanner.takeKeyword()) {
      case 'PASSWORD':
        return this.committing(Kind.Dcl);
      case 'DEFAULT': // SET DEFAULT ROLE commits on MySQL only; MariaDB runs it as a plain SET
        return Kind.Dcl;
      case 'STATEMENT': {
        // MariaDB SET STATEMENT var = value [, ...] FOR <statement>: the variables last one statement.
        while (!scanner.ended) {
          if (scanner.takeKeyword() !== 'FOR') continue;
          const tok = scanner.take();
          if (tok === TOK_LPAREN) return Kind.Read;
          if (tok !== TOK_WORD) return Kind.Unknown;
          // No recursion into another SET: a long chain of them must not exhaust the stack.
          const inner = scanner.lexer.kw;
          if (inner !== 'SET') return this.dispatch(inner);
          scanner.take();
          this.transaction = autocommitEffect(scanner);
          return Kind.Set;
        }
        return Kind.Set;
      }
      default:
        this.transaction = autocommitEffect(scanner);
        return Kind.Set;
    }
  }
}

function startsQuery(kw: Keyword | ''): boolean {
  return kw === 'SELECT' || kw === 'WITH' || kw === 'VALUES' || kw === 'TABLE';
}

/** The kind of a statement EXPLAIN or ANALYZE can take, or undefined. */
function explainable(kw: Keyword | ''): Kind | undefined {
  if (startsQuery(kw)) return Kind.Read;
  if (kw === 'INSERT' || kw === 'UPDATE' || kw === 'DELETE' || kw === 'REPLACE') return Kind.Write;
  return undefined;
}
