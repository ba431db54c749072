import type { Keyword } from './keywords.js';
import type { Lexer } from './lexer.js';
import {
  TOK_ASSIGN,
  TOK_END,
  TOK_LPAREN,
  TOK_RPAREN,
  TOK_SEMI,
  TOK_SYS_VAR,
  TOK_USER_VAR,
  TOK_WORD,
  type Tok,
} from './tokens.js';

/**
 * What the scanner saw in a statement, whatever kind of statement it is. The statement rules decide
 * what each finding means: `UPDATE` is a write in a SELECT but just the statement's own verb in an
 * UPDATE, and a user-variable assignment is session state in both.
 */
export const Seen = {
  /** UPDATE (not after FOR), DELETE, INSERT or REPLACE used as a statement, not as a function. */
  WriteWord: 1 << 0,
  /** FOR UPDATE, FOR SHARE */
  LockingClause: 1 << 1,
  /** LOCK: `LOCK IN SHARE MODE` in a select, `WITH READ LOCK` in FLUSH. */
  LockWord: 1 << 2,
  Into: 1 << 3,
  /** INTO @var */
  IntoVariable: 1 << 4,
  /** LAST_INSERT_ID(), FOUND_ROWS(), ROW_COUNT(), IS_FREE_LOCK(), sequences, SQL_CALC_FOUND_ROWS, @@identity */
  PrimaryFunction: 1 << 5,
  /** GET_LOCK(), RELEASE_LOCK(), RELEASE_ALL_LOCKS(), IS_USED_LOCK(), LAST_INSERT_ID(expr) */
  SessionFunction: 1 << 6,
  /** @var := */
  VariableAssigned: 1 << 7,
  /** @var read, or a system variable that only means something on this connection (@@warning_count) */
  ConnectionRead: 1 << 8,
  /** TRANSACTION or AUTOCOMMIT, for SET */
  TransactionWord: 1 << 9,
  /** EXPORT, for FLUSH TABLES ... FOR EXPORT */
  ExportWord: 1 << 10,
} as const;

/** Findings that change the connection whatever the statement is. */
export const SESSION_EFFECTS = Seen.VariableAssigned | Seen.SessionFunction | Seen.IntoVariable;

// What the previous token left undecided until the next one arrives (plain constants: see tokens.ts).
const NOTHING = 0;
/** @var: assigned if `:=` follows, read otherwise */
const VARIABLE = 1;
/** a function name or INSERT/REPLACE: a call if `(` follows */
const CALL = 2;
/** LAST_INSERT_ID(: sets the value unless `)` follows */
const ARGUMENTS = 3;
/** INTO: a user variable next is assigned */
const INTO = 4;
type Pending = typeof NOTHING | typeof VARIABLE | typeof CALL | typeof ARGUMENTS | typeof INTO;

/**
 * Pulls tokens from the lexer for one statement at a time and records, in `seen`, the findings
 * that matter in any statement. It looks one token back, never ahead, so the pass stays single.
 */
export class Scanner {
  seen = 0;
  /** The last token taken ended the statement (`;` or end of text). */
  ended = false;
  /** FOR, NEXT or PREVIOUS when the last token was one of them: the words whose next word matters. */
  private previousKeyword: Keyword | '' = '';
  private pending: Pending = NOTHING;
  private pendingKeyword: Keyword | '' = '';

  constructor(readonly lexer: Lexer) {}

  /** Starts a new statement. */
  reset(): void {
    this.seen = 0;
    this.ended = false;
    this.previousKeyword = '';
    this.pending = NOTHING;
  }

  /** The next token, after recording what it means. */
  take(): Tok {
    return this.advance(false);
  }

  /** Takes tokens up to the end of the statement. */
  drain(): void {
    // Only keywords, variables, `:=` and `;` record anything by themselves; other tokens matter only
    // to something the previous token left pending, so the lexer may skip them when nothing is.
    while (!this.ended) this.advance(this.pending === NOTHING && this.previousKeyword === '');
  }

  private advance(skipPlain: boolean): Tok {
    const lexer = this.lexer;
    const tok = lexer.next(skipPlain);
    const pending = this.pending;
    if (pending !== NOTHING) {
      this.pending = NOTHING;
      this.resolve(pending, tok);
    }
    if (tok === TOK_WORD) {
      if (!lexer.afterDot) this.word(lexer.kw);
      else if (lexer.kw === 'NEXTVAL' || lexer.kw === 'CURRVAL') this.seen |= Seen.PrimaryFunction; // seq.nextval
    } else if (tok === TOK_USER_VAR) {
      if (pending !== INTO) this.pending = VARIABLE;
    } else if (tok === TOK_SYS_VAR) {
      this.systemVariable(lexer.kw);
    } else if (tok === TOK_SEMI || tok === TOK_END) {
      this.ended = true;
    }
    const kw = tok === TOK_WORD && !lexer.afterDot ? lexer.kw : '';
    this.previousKeyword = kw === 'FOR' || kw === 'NEXT' || kw === 'PREVIOUS' ? kw : '';
    return tok;
  }

  /** The keyword the next token spells ('' for any other token), after taking it. */
  takeKeyword(): Keyword | '' {
    if (this.ended) return '';
    return this.take() === TOK_WORD && !this.lexer.afterDot ? this.lexer.kw : '';
  }

  private resolve(pending: Pending, tok: Tok): void {
    switch (pending) {
      case VARIABLE:
        this.seen |= tok === TOK_ASSIGN ? Seen.VariableAssigned : Seen.ConnectionRead;
        break;
      case CALL:
        if (tok === TOK_LPAREN) this.call(this.pendingKeyword);
        else if (this.pendingKeyword === 'INSERT' || this.pendingKeyword === 'REPLACE')
          this.seen |= Seen.WriteWord;
        break;
      case ARGUMENTS:
        if (tok !== TOK_RPAREN) this.seen |= Seen.SessionFunction; // LAST_INSERT_ID(expr) sets it
        break;
      case INTO:
        if (tok === TOK_USER_VAR) this.seen |= Seen.IntoVariable;
        break;
    }
  }

  private word(kw: Keyword | ''): void {
    switch (kw) {
      case '':
        return;
      case 'UPDATE':
        this.seen |= this.previousKeyword === 'FOR' ? Seen.LockingClause : Seen.WriteWord;
        return;
      case 'SHARE':
        if (this.previousKeyword === 'FOR') this.seen |= Seen.LockingClause;
        return;
      case 'LOCK':
        this.seen |= Seen.LockWord;
        return;
      case 'DELETE':
        this.seen |= Seen.WriteWord;
        return;
      case 'INTO':
        this.seen |= Seen.Into;
        this.pending = INTO;
        return;
      case 'VALUE': // NEXT VALUE FOR seq, PREVIOUS VALUE FOR seq
        if (this.previousKeyword === 'NEXT' || this.previousKeyword === 'PREVIOUS')
          this.seen |= Seen.PrimaryFunction;
        return;
      case 'SQL_CALC_FOUND_ROWS': // only useful with FOUND_ROWS() on the same connection
        this.seen |= Seen.PrimaryFunction;
        return;
      case 'TRANSACTION':
      case 'AUTOCOMMIT':
        this.seen |= Seen.TransactionWord;
        return;
      case 'EXPORT':
        this.seen |= Seen.ExportWord;
        return;
      case 'INSERT': // INSERT(str, ...) and REPLACE(str, ...) are string functions
      case 'REPLACE':
      case 'LAST_INSERT_ID':
      case 'FOUND_ROWS':
      case 'ROW_COUNT':
      case 'GET_LOCK':
      case 'RELEASE_LOCK':
      case 'RELEASE_ALL_LOCKS':
      case 'IS_FREE_LOCK':
      case 'IS_USED_LOCK':
      case 'NEXTVAL':
      case 'LASTVAL':
      case 'SETVAL':
        this.pending = CALL;
        this.pendingKeyword = kw;
        return;
    }
  }

  /** `kw(` : a function call (any blanks or comments between name and parenthesis count). */
  private call(kw: Keyword | ''): void {
    switch (kw) {
      case 'GET_LOCK':
      case 'RELEASE_LOCK':
      case 'RELEASE_ALL_LOCKS':
      case 'IS_USED_LOCK':
        this.seen |= Seen.SessionFunction;
        return;
      case 'LAST_INSERT_ID':
        this.seen |= Seen.PrimaryFunction;
        this.pending = ARGUMENTS;
        return;
      case 'FOUND_ROWS':
      case 'ROW_COUNT':
      case 'IS_FREE_LOCK':
      case 'NEXTVAL':
      case 'LASTVAL':
      case 'SETVAL':
        this.seen |= Seen.PrimaryFunction;
        return;
    }
  }

  private systemVariable(kw: Keyword | ''): void {
    switch (kw) {
      case 'IDENTITY':
      case 'LAST_INSERT_ID':
        this.seen |= Seen.PrimaryFunction;
        return;
      case 'INSERT_ID':
      case 'LAST_GTID':
      case 'WARNING_COUNT':
      case 'ERROR_COUNT':
        this.seen |= Seen.ConnectionRead;
        return;
      case 'AUTOCOMMIT':
        this.seen |= Seen.TransactionWord;
        return;
    }
  }
}
