import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodePool } from '../src/pool.js';
import {
  leastOutstanding,
  type ReadSelector,
  type SelectableNode,
  weightedRoundRobin,
} from '../src/read-selector.js';

type TestNode = SelectableNode & { up: boolean; outstanding: number };

function candidates(...weights: number[]): TestNode[] {
  return weights.map((weight, i) => ({
    // Selection only compares node identities.
    node: { name: String.fromCharCode(97 + i) } as unknown as NodePool,
    name: String.fromCharCode(97 + i),
    weight,
    up: true,
    outstanding: 0,
    isAvailable(this: { up: boolean }) {
      return this.up;
    },
  }));
}

/** The index `selector` picks, or -1. */
function selectWeighted(
  list: readonly SelectableNode[],
  selector: ReadSelector,
  now: number,
  exclude?: SelectableNode,
): number {
  const picked = selector.select(list, now, exclude?.node);
  return picked === undefined ? -1 : list.indexOf(picked);
}

function picks(list: TestNode[], count: number, selector = weightedRoundRobin()): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const index = selectWeighted(list, selector, 0);
    out.push(index < 0 ? '-' : list[index]!.name);
  }
  return out;
}

describe('weightedRoundRobin (smooth weighted round robin)', () => {
  it('interleaves picks like nginx: weights 5,1,1 give a a b a c a a', () => {
    expect(picks(candidates(5, 1, 1), 7).join(' ')).toBe('a a b a c a a');
  });

  it('alternates between equal weights', () => {
    expect(picks(candidates(1, 1, 1), 6).join('')).toBe('abcabc');
  });

  it('gives each candidate exactly its share in every window of sum(weights) picks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        fc.nat(3),
        (weights, rounds) => {
          const list = candidates(...weights);
          const total = weights.reduce((a, b) => a + b, 0);
          const selector = weightedRoundRobin();
          for (let round = 0; round <= rounds; round++) {
            const window = picks(list, total, selector);
            list.forEach((c, i) => {
              expect(window.filter((name) => name === c.name)).toHaveLength(weights[i]!);
            });
          }
        },
      ),
    );
  });

  it('skips unavailable candidates, which earn no credit while down', () => {
    const list = candidates(1, 1);
    const selector = weightedRoundRobin();
    list[0]!.up = false;
    expect(picks(list, 4, selector)).toEqual(['b', 'b', 'b', 'b']);
    list[0]!.up = true;
    // Back up: strict alternation resumes instead of a burst of catch-up picks for `a`.
    expect(picks(list, 4, selector)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('skips the excluded candidate (a failed node on retry)', () => {
    const list = candidates(3, 1);
    const selector = weightedRoundRobin();
    for (let i = 0; i < 5; i++) expect(selectWeighted(list, selector, 0, list[0])).toBe(1);
  });

  it('returns -1 when nothing is available', () => {
    const list = candidates(1, 2);
    for (const c of list) c.up = false;
    expect(selectWeighted(list, weightedRoundRobin(), 0)).toBe(-1);
    expect(selectWeighted([], weightedRoundRobin(), 0)).toBe(-1);
    expect(selectWeighted(candidates(1), weightedRoundRobin(), 0, undefined)).toBe(0);
  });

  it('passes the clock to isAvailable', () => {
    const seen: number[] = [];
    const list: SelectableNode[] = [
      {
        node: {} as NodePool,
        name: 'a',
        weight: 1,
        outstanding: 0,
        isAvailable: (now: number) => {
          seen.push(now);
          return now > 100;
        },
      },
    ];
    const selector = weightedRoundRobin();
    expect(selectWeighted(list, selector, 50)).toBe(-1);
    expect(selectWeighted(list, selector, 150)).toBe(0);
    expect(seen).toEqual([50, 150]);
  });
});

describe('leastOutstanding', () => {
  it('sends the read to the replica with the fewest statements in flight', () => {
    const list = candidates(1, 1, 1);
    list[0]!.outstanding = 4;
    list[1]!.outstanding = 1;
    list[2]!.outstanding = 3;
    const selector = leastOutstanding();
    for (let i = 0; i < 5; i++) expect(selectWeighted(list, selector, 0)).toBe(1);
  });

  it('weighs outstanding statements by weight: weight 2 may carry twice the load', () => {
    const list = candidates(2, 1);
    list[0]!.outstanding = 3; // 1.5 per unit of weight
    list[1]!.outstanding = 2; // 2 per unit
    expect(selectWeighted(list, leastOutstanding(), 0)).toBe(0);
  });

  it('spreads reads round robin while every replica is idle', () => {
    const list = candidates(1, 1, 1);
    const selector = leastOutstanding();
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) seen.add(selectWeighted(list, selector, 0));
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it('moves load off a slow replica: a replica that holds its statements longer gets fewer new ones', () => {
    // A closed-loop simulation: each pick holds the replica for its service time.
    const list = candidates(1, 1);
    const serviceTicks = [1, 5]; // replica b is five times slower
    const selector = leastOutstanding();
    const busyUntil: number[][] = [[], []];
    const served = [0, 0];
    for (let tick = 0; tick < 1_000; tick++) {
      for (let i = 0; i < 2; i++) {
        busyUntil[i] = busyUntil[i]!.filter((t) => t > tick);
        list[i]!.outstanding = busyUntil[i]!.length;
      }
      for (let caller = 0; caller < 4; caller++) {
        const index = selectWeighted(list, selector, 0);
        busyUntil[index]!.push(tick + serviceTicks[index]!);
        list[index]!.outstanding++;
        served[index]!++;
      }
    }
    // Round robin would give each exactly half; least-outstanding gives the fast one clearly more.
    expect(served[0]!).toBeGreaterThan(served[1]! * 2);
  });

  it('skips unavailable and excluded replicas, and returns undefined when none is left', () => {
    const list = candidates(1, 1);
    list[0]!.up = false;
    const selector = leastOutstanding();
    expect(selectWeighted(list, selector, 0)).toBe(1);
    expect(selectWeighted(list, selector, 0, list[1])).toBe(-1);
  });
});
