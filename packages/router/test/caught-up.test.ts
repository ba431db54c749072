import { describe, expect, it } from 'vitest';
import { type GtidPosition, parsePosition } from '../src/consistency/position.js';
import { caughtUpWithin, type NodeProbe, replicaProbe } from '../src/topology/monitor.js';

function position(text: string): GtidPosition {
  const parsed = parsePosition('mariadb', text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const PRIMARY = { position: position('0-1-100'), positionAskedAt: 1_000 };

function replica(overrides: Partial<NodeProbe> = {}): NodeProbe {
  return {
    reachable: true,
    readOnly: true,
    replica: {
      ioRunning: true,
      sqlRunning: true,
      secondsBehind: 0,
      sourceHost: '127.0.0.1',
      sourcePort: 3306,
      lastError: '',
    },
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

describe('replicaProbe with a caught-up bound', () => {
  it('takes the smaller of the heartbeat lag and the bound', () => {
    expect(replicaProbe(replica(), undefined, 3)).toMatchObject({ replicating: true, lagMs: 3 });
    expect(replicaProbe(replica({ heartbeatLagMs: 2 }), undefined, 40)).toMatchObject({ lagMs: 2 });
  });

  it('keeps the heartbeat figure when nothing is proven', () => {
    expect(replicaProbe(replica(), undefined, undefined)).toMatchObject({ lagMs: 190 });
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
      },
    });
    expect(replicaProbe(unknown, undefined, undefined)).toMatchObject({ lagMs: null });
    expect(replicaProbe(unknown, undefined, 4)).toMatchObject({ lagMs: 4 });
  });
});
