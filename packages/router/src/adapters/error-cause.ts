import { RwsplitError } from '../errors.js';

// Deep enough for an ORM's wrapper around a wrapper; bounded so a cyclic `cause` cannot loop.
const MAX_DEPTH = 8;

/**
 * The `RwsplitError` behind an error an ORM threw, if any. ORMs wrap what the driver throws: Drizzle's
 * `DrizzleQueryError` carries the query text and parameters, with the router's error as `cause`. This
 * follows the `cause` chain, so a program can match `rwsplitErrorOf(error)?.code` wherever it came from.
 */
export function rwsplitErrorOf(error: unknown): RwsplitError | undefined {
  let current = error;
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    if (current instanceof RwsplitError) return current;
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as { readonly cause?: unknown }).cause;
  }
  return undefined;
}
