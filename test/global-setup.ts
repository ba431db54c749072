// Every cluster the suite starts keeps its state under one root for this run; at the end nothing may
// still use it. A leftover process fails the run (after being ended: it is ours, found by its state dir).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopUnusedPrivateEngine } from '../packages/cluster/src/docker/engine.js';
import { processesUsing } from './support/processes.js';

let root = '';

export function setup(): void {
  root = mkdtempSync(join(tmpdir(), 'rwsplit-test-run-'));
  // Passable (not listable) by others: database servers run as their own user and reach their dirs.
  chmodSync(root, 0o711);
  process.env.RWSPLIT_STATE_ROOT = root;
}

export async function teardown(): Promise<void> {
  // A docker suite releases the private engine it started; one still up with no live user was leaked
  // (or its worker was killed): stopped now, and the run fails.
  const leakedEngine = await stopUnusedPrivateEngine();
  const leftovers = processesUsing(root);
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (leftovers.length > 0) {
    throw new Error(`processes outlived the suite (ended now): ${leftovers.join(', ')}; state under ${root}`);
  }
  if (leakedEngine) throw new Error('the private docker engine outlived the suite (stopped now)');
  rmSync(root, { recursive: true, force: true });
}
