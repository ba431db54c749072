/**
 * The outcome of reading text or rows that came from outside (a server, a cookie): the value, or why it
 * could not be read. Parsers return this instead of throwing, so a malformed input is an ordinary branch
 * for the caller (usually "read from the primary"), never an exception on the read path.
 */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

export function parsed<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function failed<T = never>(error: string): ParseResult<T> {
  return { ok: false, error };
}
