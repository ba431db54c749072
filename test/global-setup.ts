// Every cluster the suite starts keeps its state under one root for this run; at the end nothing may
// still use it. A leftover process fails the run (after being ended: it is ours, found by its state dir).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processesUsing } from './support/processes.js';

let root = '';

export function setup(): void {
  root = mkdtempSync(join(tmpdir(), 'rwsplit-test-run-'));
  // Passable (not listable) by others: database servers run as their own user and reach their dirs.
  chmodSync(root, 0o711);
  process.env.RWSPLIT_STATE_ROOT = root;
}

export function teardown(): void {
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
  rmSync(root, { recursive: true, force: true });
}
