/**
 * The only words the classifier cares about. Every other word (table names, columns, most of SQL)
 * is an identifier to it. The lexer reports a keyword as this list's own string, so the rules can
 * `switch` on readable literals that TypeScript checks against this list, and the operation name
 * comes out upper-cased without allocating. Words that matter only right after a transaction verb
 * (WORK, CHAIN, TO, ONLY ...) are compared in place with Lexer.spells instead: as keywords, common ones
 * like AND and TO would cost every other statement a lookup hit.
 */
export const KEYWORDS = [
  // statements that may read
  'SELECT',
  'WITH',
  'TABLE',
  'VALUES',
  'HELP',
  'SHOW',
  'DESCRIBE',
  'DESC',
  'EXPLAIN',
  'ANALYZE',
  // writes, code, DDL, DCL
  'INSERT',
  'UPDATE',
  'DELETE',
  'REPLACE',
  'LOAD',
  'IMPORT',
  'DO',
  'CALL',
  'CREATE',
  'ALTER',
  'DROP',
  'RENAME',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  // session and transactions
  'SET',
  'USE',
  'LOCK',
  'UNLOCK',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
  'HANDLER',
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'XA',
  // administration
  'OPTIMIZE',
  'REPAIR',
  'CHECK',
  'CHECKSUM',
  'FLUSH',
  'RESET',
  'PURGE',
  'KILL',
  'SHUTDOWN',
  'RESTART',
  'INSTALL',
  'UNINSTALL',
  'CHANGE',
  'STOP',
  'CACHE',
  'BINLOG',
  'CLONE',
  'BACKUP',
  'GET',
  // words that refine a statement
  'TEMPORARY',
  'OR',
  'USER',
  'ROLE',
  'TRANSACTION',
  'AUTOCOMMIT',
  'PASSWORD',
  'DEFAULT',
  'STATEMENT',
  'FOR',
  'SHARE',
  'INTO',
  'NEXT',
  'PREVIOUS',
  'VALUE',
  'NOT',
  'WARNINGS',
  'ERRORS',
  'COUNT',
  'PROFILE',
  'PROFILES',
  'MASTER',
  'BINARY',
  'FORMAT',
  'EXTENDED',
  'PARTITIONS',
  'NO_WRITE_TO_BINLOG',
  'LOCAL',
  'TABLES',
  'DIAGNOSTICS',
  'CURRENT',
  'STACKED',
  'EXPORT',
  'SQL_CALC_FOUND_ROWS',
  // functions whose meaning is bound to the primary or to the connection
  'LAST_INSERT_ID',
  'FOUND_ROWS',
  'ROW_COUNT',
  'GET_LOCK',
  'RELEASE_LOCK',
  'RELEASE_ALL_LOCKS',
  'IS_FREE_LOCK',
  'IS_USED_LOCK',
  'NEXTVAL',
  'LASTVAL',
  'SETVAL',
  'CURRVAL',
  // system variables and their scopes
  'IDENTITY',
  'INSERT_ID',
  'LAST_GTID',
  'WARNING_COUNT',
  'ERROR_COUNT',
  'GLOBAL',
  'SESSION',
  'PERSIST',
  'PERSIST_ONLY',
] as const;

export type Keyword = (typeof KEYWORDS)[number];

/** Words longer than this are never keywords. */
export const KEYWORD_MAX_LENGTH = KEYWORDS.reduce((max, k) => Math.max(max, k.length), 0);

// Most words in a statement are names, and most names are ruled out by their length and their first
// and last letters alone: two array loads. The rest are hashed from their first, second and last
// characters folded with `| 0x20` (one case for letters; other characters cannot match anyway) into
// an open-addressed table, and compared in full.
/** Bit n set: a keyword of this length starts with letter n (a = 0). */
const firstLetters = new Int32Array(KEYWORD_MAX_LENGTH + 1);
/** Bit n set: a keyword of this length ends with letter n. */
const lastLetters = new Int32Array(KEYWORD_MAX_LENGTH + 1);
const SLOTS = 512; // a power of two, about four times the keyword count: probes end early
const MASK = SLOTS - 1;
const slots = new Int16Array(SLOTS).fill(-1);
const folded: Uint8Array[] = [];

function slotOf(first: number, second: number, last: number, length: number): number {
  return (Math.imul(Math.imul(first, 31) + second, 31) + last + Math.imul(length, 7)) & MASK;
}

KEYWORDS.forEach((word, index) => {
  const codes = Uint8Array.from(word, (ch) => ch.charCodeAt(0) | 0x20);
  folded.push(codes);
  firstLetters[word.length]! |= 1 << (codes[0]! - 97);
  lastLetters[word.length]! |= 1 << (codes[codes.length - 1]! - 97);
  let slot = slotOf(codes[0]!, codes[1]!, codes[codes.length - 1]!, codes.length);
  while (slots[slot] !== -1) slot = (slot + 1) & MASK;
  slots[slot] = index;
});

/** The keyword spelled by `text[start, start + length)` in any case, or '' if it is none. */
export function lookupKeyword(text: string, start: number, length: number): Keyword | '' {
  if (length < 2 || length > KEYWORD_MAX_LENGTH) return '';
  const first = (text.charCodeAt(start) | 0x20) - 97;
  if (first < 0 || first > 25 || (firstLetters[length]! & (1 << first)) === 0) return '';
  const last = (text.charCodeAt(start + length - 1) | 0x20) - 97;
  if (last < 0 || last > 25 || (lastLetters[length]! & (1 << last)) === 0) return '';
  let slot = slotOf(first + 97, text.charCodeAt(start + 1) | 0x20, last + 97, length);
  for (;;) {
    const index = slots[slot]!;
    if (index < 0) return '';
    if (sameFolded(text, start, length, folded[index]!)) return KEYWORDS[index]!;
    slot = (slot + 1) & MASK;
  }
}

function sameFolded(text: string, start: number, length: number, word: Uint8Array): boolean {
  if (word.length !== length) return false;
  for (let i = 0; i < length; i++) {
    if ((text.charCodeAt(start + i) | 0x20) !== word[i]) return false;
  }
  return true;
}
