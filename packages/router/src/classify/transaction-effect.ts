import type { TransactionEffect } from './index.js';
import type { Lexer } from './lexer.js';
import type { Scanner } from './scanner.js';
import {
  TOK_ASSIGN,
  TOK_IDENT,
  TOK_LPAREN,
  TOK_OTHER,
  TOK_RPAREN,
  TOK_SYS_VAR,
  TOK_USER_VAR,
  TOK_WORD,
  type Tok,
} from './tokens.js';

// What transaction statements do, read token by token after their verb: comments, executable comments and
// case reach these rules the way they reach the server, already resolved by the lexer.
//
// Where a text leaves room, the answer is the one that keeps a session from believing a transaction is
// over while it may be open: a tail the servers reject after COMMIT or ROLLBACK changes nothing ('none'),
// while BEGIN and START TRANSACTION open a transaction whatever follows them.

const COMMA = 44;
const EQUALS = 61;

/** Takes the next token unless the statement has ended: taking then would read the next statement's. */
function step(scanner: Scanner): Tok {
  return scanner.ended ? scanner.lexer.tok : scanner.take();
}

/**
 * After COMMIT or ROLLBACK: `[WORK] [AND [NO] CHAIN] [[NO] RELEASE]`, or for ROLLBACK `[WORK] TO
 * [SAVEPOINT] name`. AND CHAIN with RELEASE, COMMIT ... TO and any other tail are syntax errors: 'none'.
 * Assumes completion_type = NO_CHAIN, the default, under which a bare COMMIT neither chains nor releases.
 */
export function endEffect(scanner: Scanner, verb: 'COMMIT' | 'ROLLBACK'): TransactionEffect {
  const lexer = scanner.lexer;
  step(scanner);
  if (lexer.spells('WORK')) step(scanner);
  if (lexer.spells('TO')) return verb === 'ROLLBACK' ? rollbackTo(scanner) : 'none';
  let chain = false;
  if (lexer.spells('AND')) {
    step(scanner);
    const no = lexer.spells('NO');
    if (no) step(scanner);
    if (!lexer.spells('CHAIN')) return 'none';
    chain = !no;
    step(scanner);
  }
  let release = false;
  if (lexer.spells('NO')) {
    step(scanner);
    if (!lexer.spells('RELEASE')) return 'none';
    step(scanner);
  } else if (lexer.spells('RELEASE')) {
    release = true;
    step(scanner);
  }
  if (!scanner.ended || (chain && release)) return 'none';
  if (chain) return 'chain';
  if (release) return 'end-and-disconnect';
  return verb === 'COMMIT' ? 'commit' : 'rollback';
}

/** At TO in ROLLBACK [WORK] TO [SAVEPOINT] name. */
function rollbackTo(scanner: Scanner): TransactionEffect {
  step(scanner);
  if (scanner.lexer.spells('SAVEPOINT')) step(scanner);
  return nameEnds(scanner) ? 'rollback-to' : 'none';
}

/** After SAVEPOINT: a name. */
export function savepointEffect(scanner: Scanner): TransactionEffect {
  step(scanner);
  return nameEnds(scanner) ? 'savepoint' : 'none';
}

/** After RELEASE: SAVEPOINT and a name. */
export function releaseEffect(scanner: Scanner): TransactionEffect {
  step(scanner);
  if (!scanner.lexer.spells('SAVEPOINT')) return 'none';
  step(scanner);
  return nameEnds(scanner) ? 'release-savepoint' : 'none';
}

/** Whether the current token is a name (plain or in backticks) and the statement ends after it. */
function nameEnds(scanner: Scanner): boolean {
  const tok = scanner.lexer.tok;
  if (scanner.ended || (tok !== TOK_WORD && tok !== TOK_IDENT)) return false;
  step(scanner);
  return scanner.ended;
}

/**
 * After START TRANSACTION: 'begin-read-only' when READ ONLY is among the characteristics, in any order,
 * and READ WRITE is not (the servers reject both; the read-write answer keeps the session on the primary).
 */
export function startEffect(scanner: Scanner): TransactionEffect {
  const lexer = scanner.lexer;
  let afterRead = false;
  let readOnly = false;
  let readWrite = false;
  while (!scanner.ended) {
    scanner.take();
    if (afterRead) {
      readOnly ||= lexer.spells('ONLY');
      readWrite ||= lexer.spells('WRITE');
    }
    afterRead = lexer.spells('READ');
  }
  return readOnly && !readWrite ? 'begin-read-only' : 'begin';
}

/** After XA: the verb decides; the xid and options (ONE PHASE, SUSPEND, JOIN ...) change nothing here. */
export function xaEffect(scanner: Scanner): TransactionEffect {
  const lexer = scanner.lexer;
  step(scanner);
  if (lexer.spells('START') || lexer.spells('BEGIN')) return 'xa-start';
  if (lexer.spells('END') || lexer.spells('PREPARE')) return 'xa-end';
  if (lexer.spells('COMMIT')) return 'xa-commit';
  if (lexer.spells('ROLLBACK')) return 'xa-rollback';
  return lexer.spells('RECOVER') ? 'xa-recover' : 'none';
}

/**
 * What a SET list does to this session's autocommit, from its first token (the current one) to the end
 * of the statement: the last assignment to the session's autocommit decides. GLOBAL, PERSIST and
 * PERSIST_ONLY leave the session's value alone; like the servers, the last scope keyword applies to the
 * assignments after it that have none, while `@@global.` and `@@session.` name one variable's scope.
 * A value the text does not show (`@x`, DEFAULT, an expression) counts as OFF: afterwards the
 * connection may hold a transaction, and a session that thinks so only stays pinned longer.
 */
export function autocommitEffect(scanner: Scanner): TransactionEffect {
  const lexer = scanner.lexer;
  let effect: TransactionEffect = 'none';
  let global = false;
  while (!scanner.ended) {
    if (lexer.tok === TOK_WORD && !lexer.afterDot) {
      const kw = lexer.kw;
      if (
        kw === 'GLOBAL' ||
        kw === 'PERSIST' ||
        kw === 'PERSIST_ONLY' ||
        kw === 'SESSION' ||
        kw === 'LOCAL'
      ) {
        global = kw !== 'SESSION' && kw !== 'LOCAL';
        step(scanner);
      }
    }
    const session = autocommitOfSession(scanner, global);
    if (session !== undefined) {
      const value = assignedValue(scanner);
      if (session) effect = value;
    }
    skipAssignment(scanner);
  }
  return effect;
}

/** The variable assigned: true for the session's autocommit, false for the global one, else undefined. */
function autocommitOfSession(scanner: Scanner, global: boolean): boolean | undefined {
  const lexer = scanner.lexer;
  switch (lexer.tok) {
    case TOK_WORD:
      return !lexer.afterDot && lexer.kw === 'AUTOCOMMIT' ? !global : undefined;
    case TOK_IDENT: // `autocommit`
      return lexer.quotes('AUTOCOMMIT') ? !global : undefined;
    case TOK_SYS_VAR:
      return lexer.kw === 'AUTOCOMMIT' ? sessionScope(lexer.scope) : undefined;
    case TOK_USER_VAR: {
      if (!lexer.unnamedSystemVariable()) return undefined; // @@`autocommit`, @@session.'autocommit'
      const scope = lexer.scope;
      step(scanner);
      return lexer.quotes('AUTOCOMMIT') ? sessionScope(scope) : undefined;
    }
    default:
      return undefined;
  }
}

/** The scope written in `@@scope.name`: none (`@@name`) means the session's, like SESSION and LOCAL. */
function sessionScope(scope: Lexer['scope']): boolean {
  return scope === '' || scope === 'SESSION' || scope === 'LOCAL';
}

/** At an autocommit variable: the value `= v` or `:= v` gives it, if that value stands alone. */
function assignedValue(scanner: Scanner): 'autocommit-on' | 'autocommit-off' {
  const lexer = scanner.lexer;
  const tok = step(scanner);
  if (tok !== TOK_ASSIGN && !(tok === TOK_OTHER && lexer.punctuation() === EQUALS)) return 'autocommit-off';
  step(scanner);
  const value = booleanValue(lexer);
  if (value === undefined) return 'autocommit-off';
  step(scanner);
  return scanner.ended || isComma(lexer) ? value : 'autocommit-off';
}

function booleanValue(lexer: Lexer): 'autocommit-on' | 'autocommit-off' | undefined {
  if (lexer.spells('1') || lexer.spells('ON') || lexer.spells('TRUE') || lexer.quotes('ON'))
    return 'autocommit-on';
  if (lexer.spells('0') || lexer.spells('OFF') || lexer.spells('FALSE') || lexer.quotes('OFF'))
    return 'autocommit-off';
  return undefined;
}

/** From the current token, takes tokens to just past the next comma outside parentheses, or to the end. */
function skipAssignment(scanner: Scanner): void {
  const lexer = scanner.lexer;
  let depth = 0;
  for (let tok = lexer.tok; !scanner.ended; tok = scanner.take()) {
    if (tok === TOK_LPAREN) depth++;
    else if (tok === TOK_RPAREN) depth = depth > 0 ? depth - 1 : 0;
    else if (depth === 0 && isComma(lexer)) {
      scanner.take();
      return;
    }
  }
}

function isComma(lexer: Lexer): boolean {
  return lexer.tok === TOK_OTHER && lexer.punctuation() === COMMA;
}
