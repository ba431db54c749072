import { describe, expect, it } from 'vitest';
import { discoverPrimary } from '../src/topology/discovery.js';
import { nextRotation, type ReplicaProbe, type RotationState } from '../src/topology/rotation.js';

const policy = { maxLagMs: 1_000, readmitAfterMs: 500 };
const good = (lagMs = 10): ReplicaProbe => ({ reachable: true, readOnly: true, replicating: true, lagMs });

describe('nextRotation', () => {
  it('admits a good replica on the first probe', () => {
    expect(nextRotation(undefined, good(), 0, policy)).toEqual({ inRotation: true, lagMs: 10 });
  });

  it.each([
    [{ reachable: false, error: 'ECONNREFUSED' } as ReplicaProbe, 'unreachable'],
    [{ reachable: true, readOnly: false, replicating: true, lagMs: 0 } as ReplicaProbe, 'writable'],
    [
      { reachable: true, readOnly: true, replicating: undefined, lagMs: 0 } as ReplicaProbe,
      'not replicating',
    ],
    [
      { reachable: true, readOnly: true, replicating: false, lagMs: 0 } as ReplicaProbe,
      'replication stopped',
    ],
    [{ reachable: true, readOnly: true, replicating: true, lagMs: null } as ReplicaProbe, 'lag unknown'],
    [good(1_001), 'lagging'],
  ])('takes a replica out at once when %j (%s)', (probe, reason) => {
    const state = nextRotation({ inRotation: true, lagMs: 5 }, probe, 0, policy);
    expect(state.inRotation).toBe(false);
    expect(state.reason).toBe(reason);
  });

  it('keeps the last known lag and the error of an unreachable replica', () => {
    const state = nextRotation(
      { inRotation: true, lagMs: 42 },
      { reachable: false, error: 'timeout' },
      0,
      policy,
    );
    expect(state).toEqual({ inRotation: false, reason: 'unreachable', lagMs: 42, error: 'timeout' });
  });

  it("carries the lag's source with the figure, the kept one's while unreachable", () => {
    const probe: ReplicaProbe = {
      reachable: true,
      readOnly: true,
      replicating: true,
      lagMs: 3,
      lagSource: 'positions',
    };
    const proven = nextRotation(undefined, probe, 0, policy);
    expect(proven).toEqual({ inRotation: true, lagMs: 3, lagSource: 'positions' });
    const lost = nextRotation(proven, { reachable: false, error: 'timeout' }, 1, policy);
    expect(lost).toMatchObject({ lagMs: 3, lagSource: 'positions' });
    expect(nextRotation(lost, good(), 2, policy)).not.toHaveProperty('lagSource');
  });

  it('counts lag exactly at the limit as acceptable', () => {
    expect(nextRotation(undefined, good(1_000), 0, policy).inRotation).toBe(true);
  });

  it('readmits only after the replica stayed good for readmitAfterMs', () => {
    let state: RotationState = { inRotation: false, reason: 'lagging', lagMs: 5_000 };
    state = nextRotation(state, good(), 1_000, policy);
    expect(state).toMatchObject({ inRotation: false, reason: 'readmitting', goodSince: 1_000 });
    state = nextRotation(state, good(), 1_250, policy);
    expect(state).toMatchObject({ inRotation: false, reason: 'readmitting', goodSince: 1_000 });
    state = nextRotation(state, good(), 1_500, policy);
    expect(state).toEqual({ inRotation: true, lagMs: 10 });
  });

  it('restarts the readmission clock when a bad probe interrupts it (no flapping)', () => {
    let state: RotationState = { inRotation: false, reason: 'lagging', lagMs: 5_000 };
    state = nextRotation(state, good(), 0, policy);
    state = nextRotation(state, good(2_000), 400, policy);
    expect(state.reason).toBe('lagging');
    state = nextRotation(state, good(), 600, policy);
    expect(state).toMatchObject({ inRotation: false, goodSince: 600 });
    expect(nextRotation(state, good(), 1_099, policy).inRotation).toBe(false);
    expect(nextRotation(state, good(), 1_100, policy).inRotation).toBe(true);
  });
});

describe('discoverPrimary', () => {
  const node = (name: string, reachable: boolean, readOnly: boolean) => ({ name, reachable, readOnly });

  it('picks the one reachable writable node', () => {
    expect(discoverPrimary([node('a', true, false), node('b', true, true)])).toEqual({
      kind: 'primary',
      node: 'a',
    });
  });

  it('follows a promotion: the old primary is down, the promoted replica is writable', () => {
    expect(discoverPrimary([node('a', false, false), node('b', true, false), node('c', true, true)])).toEqual(
      {
        kind: 'primary',
        node: 'b',
      },
    );
  });

  it('treats an old primary that came back read-only as a replica', () => {
    expect(discoverPrimary([node('a', true, true), node('b', true, false)])).toEqual({
      kind: 'primary',
      node: 'b',
    });
  });

  it('reports split brain when two nodes are writable', () => {
    expect(discoverPrimary([node('a', true, false), node('b', true, false), node('c', true, true)])).toEqual({
      kind: 'split-brain',
      nodes: ['a', 'b'],
    });
  });

  it('reports no primary, naming the unreachable nodes', () => {
    const decision = discoverPrimary([node('a', false, false), node('b', true, true)]);
    expect(decision).toEqual({ kind: 'none', reason: 'no reachable writable node (unreachable: a)' });
  });

  it('reports no primary while every node is read-only', () => {
    expect(discoverPrimary([node('a', true, true)]).kind).toBe('none');
  });
});
