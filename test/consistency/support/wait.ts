/** Waiting without fixed sleeps: poll a condition, with its own bound, and say what never happened. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface UntilOptions {
  readonly timeoutMs: number;
  /** Named in the timeout error. */
  readonly what: string;
  /** Default: 25 ms. */
  readonly pollMs?: number;
}

/**
 * Polls `check` until it returns something other than `undefined` or `false` (a throw counts as "not
 * yet"). Resolves with that value and `at`, the `performance.now()` at which it was seen.
 */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: UntilOptions,
): Promise<{ value: T; at: number }> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return { value, at: performance.now() };
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}`);
    }
    await sleep(options.pollMs ?? 25);
  }
}

export { inParallel } from '../../support/parallel.js';

export { timed } from '../../support/timed.js';
