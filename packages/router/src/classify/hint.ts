import { isWordChar } from './characters.js';
import type { RouteTarget } from './classification.js';

/**
 * The routing hint in comment text[from, to): `rwsplit:primary` or `rwsplit:replica`, any case,
 * blanks allowed around the colon, as a word of its own. `primary` wins if both appear.
 */
export function findHint(text: string, from: number, to: number): RouteTarget | undefined {
  let hint: RouteTarget | undefined;
  for (let i = from; i < to; i++) {
    if ((text.charCodeAt(i) | 0x20) !== 114 || !matchFolded(text, i, to, 'rwsplit')) continue; // r
    if (i > from && isWordChar(text.charCodeAt(i - 1))) continue;
    let j = skipBlanks(text, i + 7, to);
    if (j >= to || text.charCodeAt(j) !== 58) continue; // :
    j = skipBlanks(text, j + 1, to);
    const target = matchFolded(text, j, to, 'primary')
      ? 'primary'
      : matchFolded(text, j, to, 'replica')
        ? 'replica'
        : undefined;
    if (target === undefined || (j + 7 < to && isWordChar(text.charCodeAt(j + 7)))) continue;
    if (target === 'primary') return target;
    hint = target;
  }
  return hint;
}

function skipBlanks(text: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i++;
  }
  return i;
}

/** `text[at, at + word.length)` equals lower-case ASCII `word` ignoring case, within `to`. */
function matchFolded(text: string, at: number, to: number, word: string): boolean {
  if (at + word.length > to) return false;
  for (let i = 0; i < word.length; i++) {
    if ((text.charCodeAt(at + i) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}
