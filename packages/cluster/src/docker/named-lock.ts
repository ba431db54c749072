import { lockBlockNamed, unlockBlockNamed } from '../block-lock.js';
import { waitFor } from '../wait.js';

/**
 * Runs `body` while holding the machine-wide lock `name` (block-lock's mkdir lock, so a holder that died
 * is taken over), waiting up to `timeoutMs` for another holder to finish. Works between the async callers
 * of one process too: a lock held by this PID reads as busy. Not re-entrant.
 */
export async function withNamedLock<T>(
  name: string,
  what: string,
  timeoutMs: number,
  body: () => Promise<T>,
): Promise<T> {
  await waitFor(async () => (lockBlockNamed(name) === 'busy' ? undefined : true), {
    what: `the lock on ${what} (another process holds it; it is released when that process finishes or dies)`,
    timeoutMs,
    intervalMs: 200,
  });
  try {
    return await body();
  } finally {
    unlockBlockNamed(name);
  }
}
