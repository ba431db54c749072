import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterError } from '../errors.js';

/**
 * Lab addresses come from 198.18.0.0/15, the block RFC 2544 reserves for network test labs: never a
 * user's LAN, a private range or a public address. It holds 512 /24s; a lab takes one, so labs (an
 * `npm start` beside `npm test`) run side by side.
 */
export const LAB_BLOCKS = 512;

/** A lab's /24: its number (0..511) and the names derived from it, all short enough for the kernel. */
export interface LabBlock {
  readonly index: number;
  /** `198.18.7` or `198.19.44`: the /24's first three octets. */
  readonly prefix: string;
  /** The lab bridge in the root namespace (interface names are at most 15 bytes). */
  readonly bridge: string;
  /** Every namespace of the lab starts with this; cleaning a dead lab removes what matches it. */
  readonly namespacePrefix: string;
}

export function labBlock(index: number): LabBlock {
  if (!Number.isInteger(index) || index < 0 || index >= LAB_BLOCKS) {
    throw new ClusterError(`a lab block is 0..${LAB_BLOCKS - 1}, got ${index}`, 'CLUSTER_INVALID_OPTION');
  }
  return {
    index,
    prefix: `198.${18 + Math.floor(index / 256)}.${index % 256}`,
    bridge: `rwsbr${index}`,
    namespacePrefix: `rwsplit-${index}-`,
  };
}

// Shared with the loopback model's locks: one directory of owner PIDs for every kind of block.
const LOCK_DIR = join(tmpdir(), 'rwsplit-blocks');

function lockDir(block: LabBlock): string {
  return join(LOCK_DIR, `lab-${block.index}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What taking a block found: `stale` when its last owner died without cleaning up after itself. */
export type LockResult = 'taken' | 'busy' | 'stale';

/**
 * Takes a block's lock: an atomic mkdir holding the owner's PID. A lock whose owner is dead is taken
 * over and reported `stale`, so the caller removes what that owner left (namespaces, bridge) first.
 */
export function lockBlock(block: LabBlock): LockResult {
  const dir = lockDir(block);
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
export function unlockBlock(block: LabBlock): void {
  const dir = lockDir(block);
  try {
    if (readFileSync(join(dir, 'pid'), 'utf8') === String(process.pid))
      rmSync(dir, { recursive: true, force: true });
  } catch {
    // already gone
  }
}
