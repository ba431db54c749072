/**
 * A character of an unquoted identifier or number: ASCII letters, digits, `_`, `$`, and every code
 * unit from U+0080 up (MySQL allows U+0080..U+FFFF unquoted), so a word never splits inside
 * non-ASCII text.
 */
export function isWordChar(c: number): boolean {
  if (c >= 128) return true;
  const letter = c | 0x20;
  return (letter >= 97 && letter <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 36;
}

/** What may follow `--` for it to start a comment: a blank, a control character or the end. */
export function isCommentGap(text: string, i: number): boolean {
  if (i >= text.length) return true;
  const c = text.charCodeAt(i);
  return c <= 32 || c === 127;
}

/** The end of the run of word characters (and, with `dots`, `.`) starting at `pos`. */
export function wordEnd(text: string, pos: number, dots = false): number {
  let i = pos;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (!isWordChar(c) && !(dots && c === 46)) break;
    i++;
  }
  return i;
}

/**
 * The end of the string or quoted identifier opened by quote `q` at `open` (after the closing
 * quote), or -1 if it never closes. A doubled quote stands for itself; backslash escapes anything
 * except inside backticks.
 */
export function quotedEnd(text: string, open: number, q: number): number {
  const escapes = q !== 96;
  let i = open + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === q) {
      if (text.charCodeAt(i + 1) !== q) return i + 1;
      i += 2;
    } else {
      i += c === 92 && escapes ? 2 : 1;
    }
  }
  return -1;
}

/** Where a line comment starting at `from` ends: MySQL and MariaDB stop at a newline or a NUL. */
export function lineCommentEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 0) break;
    i++;
  }
  return i;
}

/** The end of the run of ASCII digits starting at `from` (an executable comment's version). */
export function digitsEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  return i;
}

/**
 * Whether the double-quoted literal text[open, end) contains `\"`: with ANSI_QUOTES the `"` quotes
 * an identifier, where a backslash escapes nothing, so that literal would end earlier.
 */
export function endsDifferentlyAsIdentifier(text: string, open: number, end: number): boolean {
  for (let i = open + 1; i < end - 1; i++) {
    if (text.charCodeAt(i) !== 92) continue;
    if (text.charCodeAt(i + 1) === 34) return true;
    i++; // the escaped character
  }
  return false;
}
