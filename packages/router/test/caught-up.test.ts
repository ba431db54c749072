import { describe, expect, it } from 'vitest';
import { type GtidPosition, parsePosition } from '../src/consistency/position.js';
import type { ReplicaState } from '../src/dialect/dialect.js';
import {
  CATCH_UP_WAIT_MS,
  catchUpTarget,
  catchUpWaitMs,
  caughtUpWithin,
  type NodeProbe,
  replicaProbe,
} from '../src/topology/caught-up.js';

function position(text: string): GtidPosition {
  const parsed = parsePosition('mariadb', text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const RUNNING: ReplicaState = {
  ioRunning: true,
  sqlRunning: true,
  secondsBehind: 0,
  sourceHost: '127.0.0.1',
  sourcePort: 3306,
  lastError: '',
  ioState: 'Yes',
  ioErrno: 0,
  sqlErrno: 0,
  receivedGtids: '',
};

const PRIMARY = { position: position('0-1-100'), positionAskedAt: 1_000 };

function replica(overrides: Partial<NodeProbe> = {}): NodeProbe {
  return {
    reachable: true,
    readOnly: true,
    replica: RUNNING,
    // The heartbeat's age: up to one monitor interval even when nothing is behind.
    heartbeatLagMs: 190,
    position: position('0-1-100'),
    positionAskedAt: 1_001,
    positionReadAt: 1_003,
    ...overrides,
  };
}

describe('caughtUpWithin', () => {
  it('bounds the lag of a replica that has what the primary had by the time between the reads', () => {
    expect(caughtUpWithin(replica(), PRIMARY)).toBe(3);
    expect(caughtUpWithin(replica({ position: position('0-1-105') }), PRIMARY)).toBe(3);
  });

  it('is 0 when the replica was read before the primary and still had everything', () => {
    expect(caughtUpWithin(replica({ positionReadAt: 990 }), PRIMARY)).toBe(0);
  });

  it('grows with a replica read late, so a slow replica is never called caught up for free', () => {
    expect(caughtUpWithin(replica({ positionReadAt: 1_800 }), PRIMARY)).toBe(800);
  });

  it('proves nothing for a replica behind, another domain, or a node not read this round', () => {
    expect(caughtUpWithin(replica({ position: position('0-1-99') }), PRIMARY)).toBeUndefined();
    expect(
      caughtUpWithin(replica(), { position: position('0-1-100,1-1-5'), positionAskedAt: 1_000 }),
    ).toBeUndefined();
    expect(caughtUpWithin(replica(), undefined)).toBeUndefined();
    expect(caughtUpWithin(replica({ position: undefined }), PRIMARY)).toBeUndefined();
    expect(caughtUpWithin(replica(), { position: PRIMARY.position })).toBeUndefined();
  });
});

describe('caughtUpWithin with a catch-up check', () => {
  // The replica was read a moment before the primary's newest commit reached it (another router's heartbeat).
  const behindByOne = replica({ position: position('0-1-99'), positionReadAt: 999 });

  it('bounds the lag by the time from the primary read to the answer that the replica had applied it', () => {
    const checked = { ...behindByOne, caughtUp: { position: PRIMARY.position, at: 1_006 } };
    expect(caughtUpWithin(checked, PRIMARY)).toBe(6);
  });

  it('takes the tighter proof when both the position read and the check cover the primary', () => {
    const both = replica({ caughtUp: { position: PRIMARY.position, at: 1_009 } });
    expect(caughtUpWithin(both, PRIMARY)).toBe(3);
  });

  it('proves nothing from a check of an older position than the primary had', () => {
    const stale = { ...behindByOne, caughtUp: { position: position('0-1-99'), at: 1_002 } };
    expect(caughtUpWithin(stale, PRIMARY)).toBeUndefined();
  });
});

describe('catchUpTarget', () => {
  const primary = replica({ readOnly: false, replica: undefined, heartbeatLagMs: undefined, ...PRIMARY });
  const behind = replica({ position: position('0-1-99') });

  it("waits for the primary's position on a replicating replica whose own read did not cover it", () => {
    expect(catchUpTarget(behind, primary)).toEqual(PRIMARY.position);
  });

  it('checks nothing when the read already proved it, or nothing could be capped', () => {
    expect(catchUpTarget(replica(), primary)).toBeUndefined();
    expect(catchUpTarget(primary, primary)).toBeUndefined();
    expect(catchUpTarget(behind, undefined)).toBeUndefined();
    const { positionAskedAt: _, ...unread } = primary;
    expect(catchUpTarget(behind, unread)).toBeUndefined();
    expect(catchUpTarget({ ...behind, reachable: false }, primary)).toBeUndefined();
    expect(catchUpTarget({ ...behind, replica: 'unknown' }, primary)).toBeUndefined();
    expect(catchUpTarget({ ...behind, replica: { ...RUNNING, sqlRunning: false } }, primary)).toBeUndefined();
  });
});

describe('catchUpWaitMs', () => {
  it('waits CATCH_UP_WAIT_MS with the default interval and timeout', () => {
    expect(catchUpWaitMs({ intervalMs: 250, timeoutMs: 1_000 }, 5)).toBe(CATCH_UP_WAIT_MS);
  });

  it('waits at most a fifth of a short interval', () => {
    expect(catchUpWaitMs({ intervalMs: 100, timeoutMs: 1_000 }, 5)).toBe(20);
  });

  it('keeps the round (probes, then twice the wait) within the probe timeout, or skips the check', () => {
    expect(catchUpWaitMs({ intervalMs: 250, timeoutMs: 1_000 }, 990)).toBe(5);
    expect(catchUpWaitMs({ intervalMs: 250, timeoutMs: 1_000 }, 999)).toBeUndefined();
    expect(catchUpWaitMs({ intervalMs: 10, timeoutMs: 1_000 }, 5)).toBe(2);
  });
});

describe('replicaProbe with a caught-up bound', () => {
  it('takes the smaller of the heartbeat lag and the bound', () => {
    expect(replicaProbe(replica(), undefined, 3)).toMatchObject({
      replicating: true,
      lagMs: 3,
      lagSource: 'positions',
    });
    // A proven round is `positions` whichever figure is smaller: the proof bounds the lag either way.
    expect(replicaProbe(replica({ heartbeatLagMs: 2 }), undefined, 40)).toMatchObject({
      lagMs: 2,
      lagSource: 'positions',
    });
  });

  it('keeps the heartbeat figure when nothing is proven, and says so', () => {
    expect(replicaProbe(replica(), undefined, undefined)).toMatchObject({
      lagMs: 190,
      lagSource: 'heartbeat',
    });
  });

  it("names the server's Seconds_Behind_Master without a heartbeat, and the kept figure after a loss", () => {
    const noHeartbeat = replica({
      heartbeatLagMs: null,
      replica: { ...RUNNING, secondsBehind: 2 },
    });
    expect(replicaProbe(noHeartbeat, undefined, undefined)).toMatchObject({
      lagMs: 2_000,
      lagSource: 'seconds behind',
    });
    expect(replicaProbe(replica(), 120, 3)).toMatchObject({ lagMs: 120, lagSource: 'last known' });
  });

  it('ignores the bound for a replica whose replication is stopped', () => {
    const stopped = replica({
      replica: {
        ioRunning: true,
        sqlRunning: false,
        secondsBehind: null,
        sourceHost: '127.0.0.1',
        sourcePort: 3306,
        lastError: '',
        ioState: 'Yes',
        ioErrno: 0,
        sqlErrno: 0,
        receivedGtids: '',
      },
    });
    expect(replicaProbe(stopped, undefined, 0)).toMatchObject({ replicating: false, lagMs: 190 });
  });

  it('uses the bound when neither the heartbeat nor the server knows the lag yet', () => {
    const unknown = replica({
      heartbeatLagMs: null,
      replica: {
        ioRunning: true,
        sqlRunning: true,
        secondsBehind: null,
        sourceHost: '127.0.0.1',
        sourcePort: 3306,
        lastError: '',
        ioState: 'Yes',
        ioErrno: 0,
        sqlErrno: 0,
        receivedGtids: '',
      },
    });
    const unproven = replicaProbe(unknown, undefined, undefined);
    expect(unproven).toMatchObject({ lagMs: null });
    expect(unproven).not.toHaveProperty('lagSource');
    expect(replicaProbe(unknown, undefined, 4)).toMatchObject({ lagMs: 4, lagSource: 'positions' });
  });
});
