import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// One directory of owner PIDs for every kind of block: loopback `127.X.Y`, lab `lab-N`.
const LOCK_DIR = join(tmpdir(), 'rwsplit-blocks');

/** What taking a block found: `stale` when its last owner died without cleaning up after itself. */
export type LockResult = 'taken' | 'busy' | 'stale';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes a block's lock: an atomic mkdir holding the owner's PID. A lock whose owner is dead is taken
 * over and reported `stale`, so a crashed run never poisons a block (and the caller may clean up after it).
 */
export function lockBlockNamed(name: string): LockResult {
  const dir = join(LOCK_DIR, name);
  mkdirSync(LOCK_DIR, { recursive: true });
  let result: LockResult = 'taken';
  try {
    mkdirSync(dir);
  } catch {
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    } catch {
      // being created right now, or broken: busy unless clearly stale
    }
    if (!Number.isInteger(owner) || alive(owner)) return 'busy';
    rmSync(dir, { recursive: true, force: true });
    try {
      mkdirSync(dir);
    } catch {
      return 'busy';
    }
    result = 'stale';
  }
  writeFileSync(join(dir, 'pid'), String(process.pid));
  return result;
}

/** Lets the block go, if this process holds it. */
export function unlockBlockNamed(name: string): void {
  const dir = join(LOCK_DIR, name);
  try {
    if (readFileSync(join(dir, 'pid'), 'utf8') === String(process.pid))
      rmSync(dir, { recursive: true, force: true });
  } catch {
    // already gone
  }
}
