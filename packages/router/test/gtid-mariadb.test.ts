import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  covers,
  EMPTY,
  format,
  type MariaDbGtid,
  type MariaDbGtidList,
  merge,
  parse,
  problem,
} from '../src/consistency/mariadb-gtid.js';

function list(text: string): MariaDbGtidList {
  const result = parse(text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

const gtidArb = fc.record({
  domain: fc.integer({ min: 0, max: 4 }),
  serverId: fc.integer({ min: 1, max: 3 }),
  seq: fc.bigInt({ min: 0n, max: 50n }),
});
/** Small domains and seqs so that lists overlap often. */
const listArb: fc.Arbitrary<MariaDbGtidList> = fc
  .uniqueArray(gtidArb, { selector: (g) => g.domain, maxLength: 4 })
  .map((gtids) => Object.freeze([...gtids].sort((a, b) => a.domain - b.domain)));
const wideListArb: fc.Arbitrary<MariaDbGtidList> = fc
  .uniqueArray(
    fc.record({
      domain: fc.integer({ min: 0, max: 0xffff_ffff }),
      serverId: fc.integer({ min: 0, max: 0xffff_ffff }),
      seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    }),
    { selector: (g) => g.domain, maxLength: 6 },
  )
  .map((gtids) => Object.freeze([...gtids].sort((a, b) => a.domain - b.domain)));

/** The specification of covers: per domain, applied seq (0 when absent) >= required seq. */
function coversModel(applied: MariaDbGtidList, required: MariaDbGtidList): boolean {
  const seqs = new Map(applied.map((g) => [g.domain, g.seq]));
  return required.every((g) => (seqs.get(g.domain) ?? 0n) >= g.seq);
}

describe('MariaDB GTID lists: parse and format', () => {
  it('parses a multi-domain position into GTIDs sorted by domain', () => {
    expect(list('1-3-7,0-1-42')).toEqual<MariaDbGtid[]>([
      { domain: 0, serverId: 1, seq: 42n },
      { domain: 1, serverId: 3, seq: 7n },
    ]);
  });

  it('reads the empty string (and blanks) as the empty position', () => {
    expect(list('')).toEqual([]);
    expect(list('  ')).toEqual([]);
  });

  it('ignores whitespace around elements', () => {
    expect(format(list(' 0-1-42 , 1-3-7 '))).toBe('0-1-42,1-3-7');
  });

  it('formats canonically: sorted, no spaces, no leading zeros', () => {
    expect(format(list('2-1-5,0-01-007'))).toBe('0-1-7,2-1-5');
  });

  it('keeps seq numbers up to 2^64-1 exactly', () => {
    expect(format(list('0-4294967295-18446744073709551615'))).toBe('0-4294967295-18446744073709551615');
  });

  it.each([
    ['0-1', 'two parts'],
    ['0-1-2-3', 'four parts'],
    ['a-1-2', 'a letter'],
    ['0-1-2,', 'a trailing comma'],
    [',0-1-2', 'a leading comma'],
    ['0-1-2,,1-1-1', 'an empty element'],
    ['-1-1-2', 'a sign'],
    ['0-1-2.5', 'a fraction'],
    ['4294967296-1-1', 'a domain above 2^32-1'],
    ['0-4294967296-1', 'a server id above 2^32-1'],
    ['0-1-18446744073709551616', 'a seq above 2^64-1'],
    ['0-1-5,0-2-6', 'a repeated domain'],
    ['0 -1-5', 'a space inside an element'],
    ['uuid:1-5', 'a MySQL set'],
  ])('rejects %j (%s) with a typed error, without throwing', (text) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/\S/);
  });

  it('round-trips every position through format and parse', () => {
    fc.assert(
      fc.property(wideListArb, (gtids) => {
        expect(parse(format(gtids))).toEqual({ ok: true, value: gtids });
      }),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9,\- ]{0,30}$/)), (text) => {
        const result = parse(text);
        if (result.ok) expect(problem(result.value)).toBeUndefined();
      }),
    );
  });
});

describe('MariaDB GTID lists: covers', () => {
  it('orders by seq within a domain, whatever the server id (failover keeps the order)', () => {
    expect(covers(list('0-2-43'), list('0-1-42'))).toBe(true);
    expect(covers(list('0-1-42'), list('0-2-43'))).toBe(false);
    expect(covers(list('0-2-42'), list('0-1-42'))).toBe(true);
  });

  it('requires every domain of the requirement, and ignores extra applied domains', () => {
    expect(covers(list('0-1-42,1-3-7'), list('1-3-7'))).toBe(true);
    expect(covers(list('0-1-42'), list('0-1-40,1-3-1'))).toBe(false);
    expect(covers(list('0-1-42,1-3-6'), list('0-1-40,1-3-7'))).toBe(false);
  });

  it('is covered by anything when the requirement is empty', () => {
    expect(covers(EMPTY, EMPTY)).toBe(true);
    expect(covers(EMPTY, list('0-1-0'))).toBe(true);
    expect(covers(EMPTY, list('0-1-1'))).toBe(false);
  });

  it('matches the per-domain model', () => {
    fc.assert(
      fc.property(listArb, listArb, (applied, required) => {
        expect(covers(applied, required)).toBe(coversModel(applied, required));
      }),
    );
  });

  it('is reflexive and transitive', () => {
    fc.assert(
      fc.property(listArb, listArb, listArb, (a, b, c) => {
        expect(covers(a, a)).toBe(true);
        if (covers(a, b) && covers(b, c)) expect(covers(a, c)).toBe(true);
      }),
    );
  });
});

describe('MariaDB GTID lists: merge', () => {
  it('keeps the higher seq per domain and every domain of either', () => {
    expect(format(merge(list('0-1-42,2-1-3'), list('0-2-40,1-3-7')))).toBe('0-1-42,1-3-7,2-1-3');
  });

  it('prefers the new primary after a failover (higher seq, new server id)', () => {
    expect(format(merge(list('0-1-42'), list('0-2-43')))).toBe('0-2-43');
  });

  it('is what a scope must see: covering the merge is covering both', () => {
    fc.assert(
      fc.property(listArb, listArb, listArb, (a, b, applied) => {
        const both = merge(a, b);
        expect(covers(both, a) && covers(both, b)).toBe(true);
        expect(covers(applied, both)).toBe(covers(applied, a) && covers(applied, b));
        expect(problem(both)).toBeUndefined();
      }),
    );
  });

  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(listArb, listArb, listArb, (a, b, c) => {
        expect(merge(a, b)).toEqual(merge(b, a));
        expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)));
        expect(merge(a, a)).toEqual(a);
      }),
    );
  });
});

describe('MariaDB GTID lists: problem', () => {
  it('accepts canonical lists and names what is wrong with others', () => {
    expect(problem(list('0-1-1,3-2-9'))).toBeUndefined();
    expect(
      problem([
        { domain: 1, serverId: 1, seq: 1n },
        { domain: 0, serverId: 1, seq: 1n },
      ]),
    ).toMatch(/sorted/);
    expect(problem([{ domain: 0, serverId: 1, seq: -1n }])).toMatch(/seq/);
    expect(problem([{ domain: 0.5, serverId: 1, seq: 1n }])).toMatch(/domain/);
    expect(problem([{ domain: 0, serverId: 1, seq: 1 as unknown as bigint }])).toMatch(/bigint/);
  });
});
