import { describe, expect, it } from 'vitest';
import { formatBinlogState, mysqlGtid, notIn, parseBinlogState, unionOf } from '../src/replication.js';

function state(text: string) {
  const result = parseBinlogState(text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

function gtidSet(text: string) {
  const result = mysqlGtid.parse(text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe('MariaDB binlog state (gtid_binlog_state)', () => {
  it('parses several servers per domain, sorted, and refuses a pair twice', () => {
    expect(formatBinlogState(state('0-4-133323, 0-1-133322,1-7-5'))).toBe('0-1-133322,0-4-133323,1-7-5');
    expect(state('')).toEqual([]);
    expect(parseBinlogState('0-1-5,0-1-6')).toMatchObject({ ok: false });
    expect(parseBinlogState('0-1')).toMatchObject({ ok: false });
  });

  it('finds nothing missing for a node that only lags (its entries are below the reference)', () => {
    expect(notIn(state('0-1-133320'), state('0-1-133324'))).toEqual([]);
    expect(notIn(state('0-1-133324'), state('0-1-133324,0-2-133330'))).toEqual([]);
  });

  it('names the transactions of a diverged old primary, though a seq-only comparison says it is covered', () => {
    // The old primary wrote 0-1-133324; the new one (server 4) went on from 133322 as 0-4-133323 ...
    const oldPrimary = state('0-1-133324');
    const newPrimary = state('0-1-133322,0-4-133325');
    expect(formatBinlogState(notIn(oldPrimary, newPrimary))).toBe('0-1-133324');
  });

  it('treats a domain the reference never saw as missing', () => {
    expect(formatBinlogState(notIn(state('0-1-10,1-7-5'), state('0-1-10')))).toBe('1-7-5');
  });

  it('unions states by the highest seq per (domain, server)', () => {
    expect(formatBinlogState(unionOf([state('0-1-10,0-2-3'), state('0-1-12'), state('1-3-1')]))).toBe(
      '0-1-12,0-2-3,1-3-1',
    );
  });
});

describe('MySQL GTID_SUBTRACT', () => {
  const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const other = '4f22ab58-82db-22f2-af44-d91bb0530673';

  it('is empty when the second set contains the first', () => {
    expect(mysqlGtid.subtract(gtidSet(`${uuid}:1-42`), gtidSet(`${uuid}:1-50,${other}:1-3`))).toEqual([]);
  });

  it('keeps what the second set lacks, splitting intervals', () => {
    const left = mysqlGtid.subtract(gtidSet(`${uuid}:1-50,${other}:1-3`), gtidSet(`${uuid}:10-20:30`));
    expect(mysqlGtid.format(left)).toBe(`${uuid}:1-9:21-29:31-50,${other}:1-3`);
  });

  it('agrees with contains() on random sets', () => {
    for (let round = 0; round < 200; round++) {
      const pick = () => {
        const parts: string[] = [];
        let at = 1 + Math.floor(Math.random() * 5);
        for (let i = 0; i < 3; i++) {
          const end = at + Math.floor(Math.random() * 5);
          parts.push(at === end ? `${at}` : `${at}-${end}`);
          at = end + 2 + Math.floor(Math.random() * 4);
        }
        return gtidSet(`${uuid}:${parts.join(':')}`);
      };
      const a = pick();
      const b = pick();
      const rest = mysqlGtid.subtract(a, b);
      expect(rest.length === 0).toBe(mysqlGtid.contains(b, a));
      // What is left is in a and none of it is in b.
      expect(mysqlGtid.contains(a, rest)).toBe(true);
      expect(mysqlGtid.contains(mysqlGtid.union(b, rest), a)).toBe(true);
    }
  });
});
