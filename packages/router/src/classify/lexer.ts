import {
  digitsEnd,
  endsDifferentlyAsIdentifier,
  isCommentGap,
  isWordChar,
  lineCommentEnd,
  quotedEnd,
  wordEnd,
} from './characters.js';
import type { RouteTarget } from './classification.js';
import { findHint } from './hint.js';
import { type Keyword, lookupKeyword } from './keywords.js';
import {
  TOK_ASSIGN,
  TOK_DOT,
  TOK_END,
  TOK_IDENT,
  TOK_LPAREN,
  TOK_OTHER,
  TOK_RPAREN,
  TOK_SEMI,
  TOK_STRING,
  TOK_SYS_VAR,
  TOK_USER_VAR,
  TOK_WORD,
  type Tok,
} from './tokens.js';

// What each ASCII character starts (from 128 up: a word). Module-private on purpose: the loop reads
// these for every character, and an imported binding would be re-read through its module each time.
const PUNCT = 0;
const WORD = 1;
const BLANK = 2;
/** ( ) . */
const GROUPING = 3;
/** Starts a comment, a literal or a variable, or may: # - / * ' " ` @ ; : */
const SPECIAL = 4;
const CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (isWordChar(c)) CHAR[c] = WORD;
  else if (' \t\n\v\f\r'.includes(ch)) CHAR[c] = BLANK;
  else if ('().'.includes(ch)) CHAR[c] = GROUPING;
  else if ('#-/*\'"`@;:'.includes(ch)) CHAR[c] = SPECIAL;
}

/** Returned where a position is expected, to say that the current token is ready instead. */
const READY = -1;

/**
 * A single left-to-right pass over MySQL/MariaDB SQL text, one token per `next()` call, with no
 * backtracking, no regular expressions and no allocation. It assumes the default
 * sql_mode (backslash escapes on, `"` quotes strings); the ambiguities that could hide SQL from it
 * set `broken` instead of guessing, and so does any unterminated literal or comment.
 */
export class Lexer {
  tok: Tok = TOK_END;
  // start, end, kw and afterDot describe the current token only if it is a word or a variable.
  /** Span of the current token in `text`. */
  start = 0;
  end = 0;
  /** The keyword the word (or the system variable's name) spells, or ''. */
  kw: Keyword | '' = '';
  /** The word follows `name.`: a qualified name's part, never a keyword (`t.update`). */
  afterDot = false;
  /** For a system variable, the scope written before its name (`@@global.x`: GLOBAL), or ''. */
  scope: Keyword | '' = '';
  /** From a `rwsplit:primary` / `rwsplit:replica` comment; primary wins when both appear. */
  hint: RouteTarget | undefined;
  /** Unterminated string, identifier or comment, or a literal whose extent the servers would disagree on. */
  broken = false;

  private pos = 0;
  /** Inside `/*! ... *\/` or `/*M! ... *\/`, whose content is SQL. */
  private inExec = false;
  /** The current token can be qualified by a following `.` (a name, not a number). */
  private dotable = false;
  private pendingDot = false;
  /** First `*\/` at or after the last execClosesBefore query; text.length when there is none. */
  private nextClose = -1;

  text = '';

  /** Starts over on another text; one lexer serves every call (classification never re-enters). */
  reset(text: string): void {
    this.text = text;
    this.tok = TOK_END;
    this.start = 0;
    this.end = 0;
    this.kw = '';
    this.afterDot = false;
    this.scope = '';
    this.hint = undefined;
    this.broken = false;
    this.pos = 0;
    this.inExec = false;
    this.dotable = false;
    this.pendingDot = false;
    this.nextClose = -1;
  }

  /**
   * The next token. With `skipPlain`, tokens that can mean nothing on their own (strings, quoted
   * identifiers, words that are not keywords, parentheses, dots and other punctuation) are consumed
   * without being returned: the scanner asks for that when nothing it holds depends on the next token.
   */
  next(skipPlain = false): Tok {
    const text = this.text;
    const len = text.length;
    const classes = CHAR;
    let pos = this.pos;
    // While plain tokens are skipped, the dot state lives in locals; fields hold it across calls.
    let dotable = this.dotable;
    let pendingDot = this.pendingDot;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      const kind = c < 128 ? classes[c] : WORD;
      if (kind === BLANK) {
        pos++;
      } else if (kind === WORD) {
        let end = pos + 1;
        while (end < len) {
          const d = text.charCodeAt(end);
          if (d < 128 && classes[d] !== WORD) break;
          end++;
        }
        const kw = lookupKeyword(text, pos, end - pos);
        if (!skipPlain || kw !== '') return this.word(pos, end, kw, pendingDot);
        pendingDot = false;
        dotable = c < 48 || c > 57; // `1.5` is a number, not `1` qualifying `5`
        pos = end;
      } else if (kind === GROUPING) {
        if (!skipPlain) {
          this.dotable = dotable;
          this.punct(c === 40 ? TOK_LPAREN : c === 41 ? TOK_RPAREN : TOK_DOT, pos, 1);
          return this.tok;
        }
        pendingDot = c === 46 && dotable;
        dotable = false;
        pos++;
      } else if (kind === PUNCT) {
        if (!skipPlain) {
          this.punct(TOK_OTHER, pos, 1);
          return TOK_OTHER;
        }
        pendingDot = dotable = false;
        pos++;
      } else {
        this.dotable = dotable;
        this.pendingDot = pendingDot;
        pos = this.special(pos, c, skipPlain);
        if (pos === READY) return this.tok;
        dotable = this.dotable;
        pendingDot = this.pendingDot;
      }
    }
    if (this.inExec) this.broken = true; // an executable comment never closed
    this.punct(TOK_END, len, 0);
    return TOK_END;
  }

  /**
   * Whether the current token is the unqualified word `word` (upper-case ASCII), in any case. For the
   * words that matter only after a transaction verb: as keywords, common ones like AND and TO would cost
   * every other statement a lookup hit.
   */
  spells(word: string): boolean {
    if (this.tok !== TOK_WORD || this.afterDot) return false;
    return sameFolded(this.text, this.start, this.end, word);
  }

  /** Whether the current token is a string or quoted identifier spelling the letters `word`, any case: `'OFF'`. */
  quotes(word: string): boolean {
    if (this.tok !== TOK_STRING && this.tok !== TOK_IDENT) return false;
    return sameFolded(this.text, this.start + 1, this.end - 1, word);
  }

  /** The current token is the `@@` (or `@@session.` ...) of a system variable with a quoted name: `@@\`x\``. */
  unnamedSystemVariable(): boolean {
    return this.tok === TOK_USER_VAR && this.text.charCodeAt(this.start + 1) === 64;
  }

  /** The character of the current token when it is Other punctuation (`=`, `,` ...): always one character. */
  punctuation(): number {
    return this.text.charCodeAt(this.pos - 1);
  }

  /** Comments, literals and the punctuation that matters: where to go on, or READY once a token is. */
  private special(pos: number, c: number, skipPlain: boolean): number {
    const text = this.text;
    switch (c) {
      case 35: // #
        return this.lineComment(pos + 1);
      case 45: // -- needs a space or control character (or the end) after it; `1--1` is arithmetic
        if (text.charCodeAt(pos + 1) === 45 && isCommentGap(text, pos + 2)) return this.lineComment(pos + 2);
        break;
      case 47: // /
        if (text.charCodeAt(pos + 1) === 42) return this.blockComment(pos);
        break;
      case 42: // * closing an executable comment
        if (this.inExec && text.charCodeAt(pos + 1) === 47) {
          this.inExec = false;
          return pos + 2;
        }
        break;
      case 39: // '
      case 34: // "
      case 96: {
        const end = this.quoted(pos, c);
        if (end === READY) return READY;
        if (skipPlain) {
          this.pendingDot = false;
          this.dotable = c === 96;
          return end;
        }
        return this.emit(c === 96 ? TOK_IDENT : TOK_STRING, pos, end, '');
      }
      case 64: // @
        return this.variable(pos);
      case 59:
        return this.punct(TOK_SEMI, pos, 1);
      case 58: // :=
        if (text.charCodeAt(pos + 1) === 61) return this.punct(TOK_ASSIGN, pos, 2);
        break;
    }
    if (skipPlain) {
      this.pendingDot = this.dotable = false;
      return pos + 1;
    }
    return this.punct(TOK_OTHER, pos, 1);
  }

  /** Makes the word text[pos, end) the current token. */
  private word(pos: number, end: number, kw: Keyword | '', afterDot: boolean): Tok {
    const first = this.text.charCodeAt(pos);
    this.tok = TOK_WORD;
    this.kw = kw;
    this.start = pos;
    this.end = end;
    this.pos = end;
    this.afterDot = afterDot;
    this.pendingDot = false;
    this.dotable = first < 48 || first > 57;
    return TOK_WORD;
  }

  /** The end of the string or quoted identifier opened by quote `q` at `open`, or READY (End, broken) if it never closes. */
  private quoted(open: number, q: number): number {
    const end = quotedEnd(this.text, open, q);
    if (end < 0) return this.fail();
    // A server that skips this executable comment (version too high, MySQL reading /*M!) ends it at
    // the first */ even inside the quotes; one that runs it does not. Which text is SQL is unclear.
    if (this.inExec && this.execClosesBefore(open, end)) this.broken = true;
    // Under sql_mode ANSI_QUOTES a server would read this one as an identifier that ends sooner.
    if (q === 34 && endsDifferentlyAsIdentifier(this.text, open, end)) this.broken = true;
    return end;
  }

  /** @name, @'name', @@name ... or a lone `@` (Other): always a token, so always READY. */
  private variable(pos: number): number {
    const c = this.text.charCodeAt(pos + 1);
    if (c === 64) return this.systemVariable(pos);
    if (c === 39 || c === 34 || c === 96) {
      const end = this.quoted(pos + 1, c);
      return end === READY ? READY : this.emit(TOK_USER_VAR, pos, end, '');
    }
    const end = wordEnd(this.text, pos + 1, true); // unquoted user variable names may contain `.`
    return end === pos + 1 ? this.punct(TOK_OTHER, pos, 1) : this.emit(TOK_USER_VAR, pos, end, '');
  }

  private systemVariable(pos: number): number {
    const text = this.text;
    let start = pos + 2;
    let end = wordEnd(text, start);
    let name = lookupKeyword(text, start, end - start);
    this.scope = '';
    if (
      (name === 'GLOBAL' ||
        name === 'SESSION' ||
        name === 'LOCAL' ||
        name === 'PERSIST' ||
        name === 'PERSIST_ONLY') &&
      text.charCodeAt(end) === 46
    ) {
      this.scope = name;
      start = end + 1;
      end = wordEnd(text, start);
      name = lookupKeyword(text, start, end - start);
    }
    // `@@` without a plain name (`@@\`x\``): report it as a variable the rules route to the primary
    // rather than learn quoted system variable names.
    if (end === start) return this.emit(TOK_USER_VAR, pos, end, '');
    return this.emit(TOK_SYS_VAR, pos, end, name);
  }

  private lineComment(from: number): number {
    const end = lineCommentEnd(this.text, from);
    this.scanHint(from, end);
    if (this.inExec && this.execClosesBefore(from, end)) this.broken = true; // see quoted()
    return end;
  }

  /** Skips the comment at `pos` (`/*`): the position after it, or READY (End, broken) if it never ends. */
  private blockComment(pos: number): number {
    const text = this.text;
    // Nesting inside an executable comment is where MySQL and MariaDB part ways; don't guess.
    if (this.inExec) this.broken = true;
    const c = text.charCodeAt(pos + 2);
    if (c === 33) return this.openExecutable(pos + 3); // /*!
    if (c === 77 && text.charCodeAt(pos + 3) === 33) return this.openExecutable(pos + 4); // /*M!
    const close = text.indexOf('*/', pos + 2);
    if (close < 0) return this.fail();
    this.scanHint(pos + 2, close);
    return close + 2;
  }

  /** Whether a `*\/` lies in text[from, to). Queries come in increasing order, so the search is linear overall. */
  private execClosesBefore(from: number, to: number): boolean {
    if (this.nextClose < from) {
      const close = this.text.indexOf('*/', from);
      this.nextClose = close < 0 ? this.text.length : close;
    }
    return this.nextClose < to - 1;
  }

  private openExecutable(pos: number): number {
    this.inExec = true;
    return digitsEnd(this.text, pos); // the version, if any
  }

  private scanHint(from: number, to: number): void {
    const hint = findHint(this.text, from, to);
    if (hint === 'primary' || (hint === 'replica' && this.hint === undefined)) this.hint = hint;
  }

  private punct(kind: Tok, pos: number, width: number): typeof READY {
    this.pendingDot = kind === TOK_DOT && this.dotable;
    this.dotable = false;
    this.tok = kind;
    this.pos = pos + width;
    return READY;
  }

  private emit(kind: Tok, start: number, end: number, kw: Keyword | ''): typeof READY {
    this.pendingDot = false;
    this.dotable = kind === TOK_IDENT;
    this.afterDot = false;
    this.kw = kw;
    this.tok = kind;
    this.start = start;
    this.end = end;
    this.pos = end;
    return READY;
  }

  private fail(): typeof READY {
    this.broken = true;
    return this.punct(TOK_END, this.text.length, 0);
  }
}

/**
 * text[start, end) equals upper-case ASCII `word` ignoring case. `| 0x20` folds letters to one case; it
 * would also let a control character pass for a digit, but words hold none and quotes() compares letters.
 */
function sameFolded(text: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if ((text.charCodeAt(start + i) | 0x20) !== (word.charCodeAt(i) | 0x20)) return false;
  }
  return true;
}
