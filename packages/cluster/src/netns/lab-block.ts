import { type LockResult, lockBlockNamed, unlockBlockNamed } from '../block-lock.js';
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

export type { LockResult } from '../block-lock.js';

/** Takes a lab block's lock (see `lockBlockNamed`). */
export function lockBlock(block: LabBlock): LockResult {
  return lockBlockNamed(`lab-${block.index}`);
}

/** Lets a lab block go, if this process holds it. */
export function unlockBlock(block: LabBlock): void {
  unlockBlockNamed(`lab-${block.index}`);
}
