import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterError } from './errors.js';

export interface WaitOptions {
  /** What is being waited for, for the error message: "db-primary to accept connections". */
  readonly what: string;
  readonly timeoutMs: number;
  /** Delay between probes. Default 50 ms. */
  readonly intervalMs?: number;
  /** Checked before each probe; a string ends the wait at once with that reason (e.g. "process exited"). */
  readonly abortIf?: () => string | undefined;
}

/**
 * Polls `probe` until it returns a value other than `undefined`. A probe that throws counts as "not yet";
 * the last error becomes the cause of the timeout error. Never a fixed sleep: readiness is observed.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    const abort = options.abortIf?.();
    if (abort !== undefined) {
      throw new ClusterError(`gave up waiting for ${options.what}: ${abort}`, 'CLUSTER_PROCESS_FAILED', {
        cause: lastError,
      });
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new ClusterError(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}${detail}`,
        'CLUSTER_NOT_READY',
        { cause: lastError },
      );
    }
    await sleep(interval);
  }
}
