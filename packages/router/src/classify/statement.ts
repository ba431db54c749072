import type { RouteTarget } from './classification.js';
import type { ClassifyReason } from './index.js';
import type { Keyword } from './keywords.js';
import type { Scanner } from './scanner.js';
import { TOK_END, TOK_IDENT, TOK_LPAREN, TOK_OTHER, TOK_SEMI, TOK_WORD } from './tokens.js';
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
  private explain: Explain = Explain.None;

  constructor(private readonly scanner: Scanner) {}

  /** Reads the next statement; false if it was empty (only blanks and comments before `;` or the end). */
  read(): boolean {
    const scanner = this.scanner;
    scanner.reset();
    this.explain = Explain.None;
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
      case 'LOAD':
      case 'IMPORT':
        return Kind.Write;
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
        return this.scanner.takeKeyword() === 'USER' ? Kind.Dcl : Kind.Ddl;
      case 'TRUNCATE':
        return Kind.Ddl;
      case 'GRANT':
      case 'REVOKE':
        return Kind.Dcl;
      case 'SET':
        return this.set();
      case 'USE':
      case 'LOCK': // LOCK TABLES, LOCK INSTANCE FOR BACKUP
      case 'UNLOCK':
      case 'PREPARE':
      case 'EXECUTE': // also MariaDB's EXECUTE IMMEDIATE
      case 'DEALLOCATE':
      case 'HANDLER': // an open handler lives in the connection
        return Kind.Session;
      case 'BEGIN': // BEGIN NOT ATOMIC ... END is a MariaDB compound statement, not a transaction
        return this.scanner.takeKeyword() === 'NOT' ? Kind.Compound : Kind.Transaction;
      case 'START':
        return this.scanner.takeKeyword() === 'TRANSACTION' ? Kind.Transaction : Kind.Admin;
      case 'COMMIT':
      case 'ROLLBACK':
      case 'SAVEPOINT':
      case 'RELEASE':
      case 'XA':
        return Kind.Transaction;
      case 'FLUSH':
        return Kind.Flush;
      case 'OPTIMIZE':
      case 'REPAIR':
      case 'CHECK':
      case 'CHECKSUM':
      case 'RESET':
      case 'PURGE':
      case 'KILL':
      case 'SHUTDOWN':
      case 'RESTART':
      case 'INSTALL':
      case 'UNINSTALL':
      case 'CHANGE':
      case 'STOP':
      case 'CACHE':
      case 'BINLOG':
      case 'CLONE':
      case 'BACKUP':
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
    if (kw === 'TABLE' || kw === 'TABLES' || kw === 'NO_WRITE_TO_BINLOG' || kw === 'LOCAL') return Kind.Admin;
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
    if (kw === 'TEMPORARY') return Kind.Session; // MariaDB also has temporary sequences
    return kw === 'USER' || kw === 'ROLE' ? Kind.Dcl : Kind.Ddl;
  }

  private drop(): Kind {
    const kw = this.scanner.takeKeyword();
    if (kw === 'TEMPORARY' || kw === 'PREPARE') return Kind.Session;
    return kw === 'USER' || kw === 'ROLE' ? Kind.Dcl : Kind.Ddl;
  }

  private set(): Kind {
    const scanner = this.scanner;
    switch (scanner.takeKeyword()) {
      case 'PASSWORD':
      case 'DEFAULT': // SET DEFAULT ROLE
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
          return inner === 'SET' ? Kind.Set : this.dispatch(inner);
        }
        return Kind.Set;
      }
      default:
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
