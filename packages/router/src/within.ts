/** What `within` gives when the deadline came first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * `work`'s result (or its rejection), or `TIMED_OUT` once `deadline` (a `performance.now()` time) passes
 * first; `work` is not cancelled (the caller abandons what it ran on). The one bound on a promise in the
 * router, for the slow paths only: it arms a timer, unref'd (what is bounded waits on a socket).
 */
export async function within<T>(work: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - performance.now()), TIMED_OUT);
    timer.unref();
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `within`, `ms` from now. */
export function withinMs<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return within(work, performance.now() + ms);
}
