import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  coarsen,
  contains,
  EMPTY,
  format,
  intervalCount,
  MAX_GNO,
  type MySqlGtidSet,
  parse,
  problem,
  union,
} from '../src/consistency/mysql-gtid.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4f22ab58-82db-22f2-af44-d91bb5530673';
const C = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

function set(text: string): MySqlGtidSet {
  const result = parse(text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

// Small universe so that sets overlap: 3 UUIDs, 2 tags, transaction numbers 1..24.
const gnoArb = fc.integer({ min: 1, max: 24 });
const intervalArb = fc.tuple(gnoArb, gnoArb).map(([x, y]) => (x <= y ? `${x}-${y}` : `${y}`));
const elementArb = fc
  .tuple(
    fc.constantFrom(A, B, C.toUpperCase()),
    fc.constantFrom('', 'blue', 'Red_1'),
    fc.array(intervalArb, { minLength: 1, maxLength: 4 }),
  )
  .map(([uuid, tag, intervals]) => [uuid, ...(tag ? [tag] : []), ...intervals].join(':'));
const textArb = fc.array(elementArb, { maxLength: 5 }).map((elements) => elements.join(','));
const setArb = textArb.map(set);

/** The specification: a set is the plain set of `uuid:tag:n` it holds. */
function members(gtids: MySqlGtidSet): Set<string> {
  const out = new Set<string>();
  for (const entry of gtids) {
    for (const { start, end } of entry.intervals) {
      for (let n = start; n <= end; n++) out.add(`${entry.uuid}:${entry.tag}:${n}`);
    }
  }
  return out;
}

describe('MySQL GTID sets: parse and format', () => {
  it('parses intervals and single transactions per UUID', () => {
    expect(set(`${A}:1-5:7-9,${B}:1-3`)).toEqual([
      {
        uuid: A,
        tag: '',
        intervals: [
          { start: 1n, end: 5n },
          { start: 7n, end: 9n },
        ],
      },
      { uuid: B, tag: '', intervals: [{ start: 1n, end: 3n }] },
    ]);
  });

  it('reads UUIDs in any case and formats them lower-case', () => {
    expect(format(set(`${A.toUpperCase()}:1-5`))).toBe(`${A}:1-5`);
  });

  it('merges overlapping, adjacent, unsorted and repeated parts like the server', () => {
    expect(format(set(`${B}:4,${A}:7-9:1-3,${A}:4-6:12,${A}:11`))).toBe(`${A}:1-9:11-12,${B}:4`);
  });

  it("accepts the server's own spelling of gtid_executed: newlines after commas", () => {
    expect(format(set(`${A}:1-100,\n${B}:1-7`))).toBe(`${A}:1-100,${B}:1-7`);
  });

  it('reads the empty string, blanks and empty elements as nothing', () => {
    expect(set('')).toEqual([]);
    expect(set(' \n ')).toEqual([]);
    expect(set(`,${A}:1,`)).toEqual(set(`${A}:1`));
  });

  it('supports MySQL 8.4 tags: they apply to the intervals after them, lower-cased, untagged first', () => {
    const tagged = set(`${A}:Blue:1-3:5,${A}:1-2:alpha:9`);
    expect(tagged.map((entry) => entry.tag)).toEqual(['', 'alpha', 'blue']);
    expect(format(tagged)).toBe(`${A}:1-2:alpha:9:blue:1-3:5`);
  });

  it('keeps transaction numbers up to 2^63-1', () => {
    expect(format(set(`${A}:1-${MAX_GNO}`))).toBe(`${A}:1-9223372036854775807`);
  });

  it.each([
    [`${A}:0`, 'transaction 0'],
    [`${A}:5-3`, 'a reversed interval'],
    [`${A}:1-9223372036854775808`, 'a number above 2^63-1'],
    [`${A}:1-`, 'an open interval'],
    [`${A}:`, 'an empty interval'],
    ['3e11fa4771ca11e19e33c80aa9429562:1', 'a UUID without dashes'],
    ['3e11fa47-71ca-11e1-9e33-c80aa942956:1', 'a short UUID'],
    ['0-1-42', 'a MariaDB position'],
    [`${A}:1-5:9tag:1`, 'a tag starting with a digit'],
    [`${A}:${'t'.repeat(33)}:1`, 'a tag longer than 32'],
    [`${A}:1-5 ${B}:1`, 'a missing comma'],
  ])('rejects %j (%s) with a typed error', (text) => {
    expect(parse(text).ok).toBe(false);
  });

  it('accepts a UUID without intervals (the server does) as adding nothing', () => {
    expect(set(`${A},${B}:1`)).toEqual(set(`${B}:1`));
  });

  it('round-trips every set through format and parse', () => {
    fc.assert(
      fc.property(setArb, (gtids) => {
        expect(problem(gtids)).toBeUndefined();
        expect(parse(format(gtids))).toEqual({ ok: true, value: gtids });
      }),
    );
  });

  it('normalizes to exactly the transactions the text names', () => {
    fc.assert(
      fc.property(fc.array(elementArb, { maxLength: 5 }), (elements) => {
        const expected = new Set<string>();
        for (const element of elements) for (const m of members(set(element))) expected.add(m);
        expect(members(set(elements.join(',')))).toEqual(expected);
      }),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f:,\- ]{0,60}$/)), (text) => {
        const result = parse(text);
        if (result.ok) expect(problem(result.value)).toBeUndefined();
      }),
    );
  });
});

describe('MySQL GTID sets: contains and union', () => {
  it('is set inclusion', () => {
    expect(contains(set(`${A}:1-10,${B}:1-3`), set(`${A}:3-5:7`))).toBe(true);
    expect(contains(set(`${A}:1-5:7-10`), set(`${A}:5-7`))).toBe(false);
    expect(contains(set(`${A}:1-10`), set(`${B}:1`))).toBe(false);
    expect(contains(set(`${A}:1-10`), EMPTY)).toBe(true);
    expect(contains(EMPTY, set(`${A}:1`))).toBe(false);
  });

  it('treats tags as separate sources', () => {
    expect(contains(set(`${A}:1-10`), set(`${A}:blue:1`))).toBe(false);
    expect(contains(set(`${A}:1-10:blue:1-2`), set(`${A}:blue:2`))).toBe(true);
  });

  it('after a failover, needs the old UUID and the new one', () => {
    const executed = set(`${A}:1-100,${B}:1-3`);
    expect(contains(executed, union(set(`${A}:100`), set(`${B}:3`)))).toBe(true);
    expect(contains(set(`${A}:1-99,${B}:1-3`), set(`${A}:100`))).toBe(false);
  });

  it('matches the plain-set model', () => {
    fc.assert(
      fc.property(setArb, setArb, (executed, required) => {
        const have = members(executed);
        const modelContains = [...members(required)].every((m) => have.has(m));
        expect(contains(executed, required)).toBe(modelContains);
        expect(members(union(executed, required))).toEqual(new Set([...have, ...members(required)]));
      }),
    );
  });

  it('union is canonical, commutative, associative, and contains both', () => {
    fc.assert(
      fc.property(setArb, setArb, setArb, (a, b, c) => {
        const ab = union(a, b);
        expect(problem(ab)).toBeUndefined();
        expect(ab).toEqual(union(b, a));
        expect(union(ab, c)).toEqual(union(a, union(b, c)));
        expect(contains(ab, a) && contains(ab, b)).toBe(true);
      }),
    );
  });
});

describe('MySQL GTID sets: coarsen', () => {
  it('fills the smallest gaps first', () => {
    expect(format(coarsen(set(`${A}:1:3:10:20`), 2))).toBe(`${A}:1-10:20`);
    expect(format(coarsen(set(`${A}:1:3:10:20`), 1))).toBe(`${A}:1-20`);
  });

  it('leaves sets within the limit untouched', () => {
    const gtids = set(`${A}:1:3,${B}:5`);
    expect(coarsen(gtids, 2)).toBe(gtids);
  });

  it('bounds intervals per source and only ever adds transactions', () => {
    fc.assert(
      fc.property(setArb, fc.integer({ min: 1, max: 4 }), (gtids, limit) => {
        const coarse = coarsen(gtids, limit);
        expect(problem(coarse)).toBeUndefined();
        expect(contains(coarse, gtids)).toBe(true);
        for (const entry of coarse) expect(entry.intervals.length).toBeLessThanOrEqual(limit);
        expect(intervalCount(coarse)).toBeLessThanOrEqual(intervalCount(gtids));
      }),
    );
  });
});

describe('MySQL GTID sets: problem', () => {
  it('names what makes a hand-built set invalid', () => {
    const interval = { start: 1n, end: 2n };
    expect(problem([{ uuid: A.toUpperCase(), tag: '', intervals: [interval] }])).toMatch(/uuid/);
    expect(problem([{ uuid: A, tag: 'Bad', intervals: [interval] }])).toMatch(/tag/);
    expect(problem([{ uuid: A, tag: '', intervals: [] }])).toMatch(/no intervals/);
    expect(
      problem([
        { uuid: A, tag: '', intervals: [interval] },
        { uuid: A, tag: '', intervals: [interval] },
      ]),
    ).toMatch(/sorted/);
    expect(problem([{ uuid: A, tag: '', intervals: [interval, { start: 3n, end: 4n }] }])).toMatch(
      /adjacent/,
    );
    expect(problem([{ uuid: A, tag: '', intervals: [{ start: 0n, end: 1n }] }])).toMatch(/1\.\.2\^63-1/);
  });
});
