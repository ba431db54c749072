import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Candidate, selectWeighted } from '../src/select.js';

function candidates(...weights: number[]): Array<Candidate & { up: boolean; name: string }> {
  return weights.map((weight, i) => ({
    name: String.fromCharCode(97 + i),
    weight,
    up: true,
    isAvailable(this: { up: boolean }) {
      return this.up;
    },
  }));
}

function picks(list: ReturnType<typeof candidates>, count: number, current = list.map(() => 0)): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const index = selectWeighted(list, current, 0);
    out.push(index < 0 ? '-' : list[index]!.name);
  }
  return out;
}

describe('selectWeighted (smooth weighted round robin)', () => {
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
          const current = list.map(() => 0);
          for (let round = 0; round <= rounds; round++) {
            const window = picks(list, total, current);
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
    const current = [0, 0];
    list[0]!.up = false;
    expect(picks(list, 4, current)).toEqual(['b', 'b', 'b', 'b']);
    list[0]!.up = true;
    // Back up: strict alternation resumes instead of a burst of catch-up picks for `a`.
    expect(picks(list, 4, current)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('skips the excluded candidate (a failed node on retry)', () => {
    const list = candidates(3, 1);
    const current = [0, 0];
    for (let i = 0; i < 5; i++) expect(selectWeighted(list, current, 0, list[0])).toBe(1);
  });

  it('returns -1 when nothing is available', () => {
    const list = candidates(1, 2);
    for (const c of list) c.up = false;
    expect(selectWeighted(list, [0, 0], 0)).toBe(-1);
    expect(selectWeighted([], [], 0)).toBe(-1);
    expect(selectWeighted(candidates(1), [0], 0, undefined)).toBe(0);
  });

  it('passes the clock to isAvailable', () => {
    const seen: number[] = [];
    const list: Candidate[] = [
      {
        weight: 1,
        isAvailable: (now) => {
          seen.push(now);
          return now > 100;
        },
      },
    ];
    expect(selectWeighted(list, [0], 50)).toBe(-1);
    expect(selectWeighted(list, [0], 150)).toBe(0);
    expect(seen).toEqual([50, 150]);
  });
});
