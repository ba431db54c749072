import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intervalCount } from '../src/consistency/mysql-gtid.js';
import {
  covers,
  emptyPosition,
  formatPosition,
  type GtidPosition,
  isEmpty,
  MAX_INTERVALS_PER_SOURCE,
  merge,
  parsePosition,
  positionProblem,
} from '../src/consistency/position.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

function mariadb(text: string): GtidPosition {
  const result = parsePosition('mariadb', text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

function mysql(text: string): GtidPosition {
  const result = parsePosition('mysql', text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe('GtidPosition', () => {
  it('parses and formats by flavor', () => {
    expect(mariadb('1-3-7,0-1-42')).toMatchObject({ flavor: 'mariadb' });
    expect(formatPosition(mariadb('1-3-7,0-1-42'))).toBe('0-1-42,1-3-7');
    expect(formatPosition(mysql(`${UUID}:3:1-2`))).toBe(`${UUID}:1-3`);
    expect(parsePosition('mariadb', `${UUID}:1`).ok).toBe(false);
    expect(parsePosition('mysql', '0-1-42').ok).toBe(false);
    expect(parsePosition('oracle' as 'mysql', '').ok).toBe(false);
  });

  it('knows empty positions of both flavors', () => {
    expect(isEmpty(mariadb(''))).toBe(true);
    expect(isEmpty(mysql(''))).toBe(true);
    expect(isEmpty(mariadb('0-1-1'))).toBe(false);
    expect(isEmpty(emptyPosition('mysql'))).toBe(true);
    expect(emptyPosition('mariadb')).toEqual(mariadb(''));
  });

  it('dispatches covers to the flavor: MariaDB per-domain seq, MySQL set inclusion', () => {
    expect(covers(mariadb('0-2-43'), mariadb('0-1-42'))).toBe(true);
    expect(covers(mariadb('0-1-41'), mariadb('0-1-42'))).toBe(false);
    expect(covers(mysql(`${UUID}:1-10`), mysql(`${UUID}:10`))).toBe(true);
    expect(covers(mysql(`${UUID}:1-9`), mysql(`${UUID}:10`))).toBe(false);
  });

  it('never lets a position of the other flavor cover a requirement (read from the primary)', () => {
    expect(covers(mysql(`${UUID}:1-10`), mariadb('0-1-1'))).toBe(false);
    expect(covers(mariadb('0-1-99'), mysql(`${UUID}:1`))).toBe(false);
  });

  it('covers an empty requirement with anything, whatever the flavor', () => {
    expect(covers(mysql(''), mariadb(''))).toBe(true);
    expect(covers(mariadb('0-1-1'), emptyPosition('mysql'))).toBe(true);
  });

  it('merges by flavor, and lets the newer position win across flavors', () => {
    expect(formatPosition(merge(mariadb('0-1-42'), mariadb('0-2-43,1-1-1')))).toBe('0-2-43,1-1-1');
    expect(formatPosition(merge(mysql(`${UUID}:1-3`), mysql(`${UUID}:5`)))).toBe(`${UUID}:1-3:5`);
    const newer = mysql(`${UUID}:5`);
    expect(merge(mariadb('0-1-42'), newer)).toBe(newer);
  });

  it("bounds a long MySQL session's requirement: one interval per write is coarsened, never dropped", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 60 }),
        (writes) => {
          let scope = emptyPosition('mysql');
          for (const gno of writes) scope = merge(scope, mysql(`${UUID}:${gno}`));
          expect(positionProblem(scope)).toBeUndefined();
          if (scope.flavor !== 'mysql') throw new Error('flavor changed');
          expect(intervalCount(scope.gtidSet)).toBeLessThanOrEqual(MAX_INTERVALS_PER_SOURCE);
          for (const gno of writes) expect(covers(scope, mysql(`${UUID}:${gno}`))).toBe(true);
        },
      ),
    );
  });

  it('reports hand-built positions that are not canonical', () => {
    expect(positionProblem(mariadb('0-1-1'))).toBeUndefined();
    expect(positionProblem({ flavor: 'mariadb', gtids: 'x' as never })).toMatch(/array/);
    expect(positionProblem({ flavor: 'mysql', gtidSet: null as never })).toMatch(/array/);
    expect(positionProblem({ flavor: 'other' } as never)).toMatch(/flavor/);
    expect(positionProblem(null as never)).toMatch(/not a position/);
  });
});
