import { failed, type ParseResult, parsed } from './parse-result.js';

/**
 * MySQL GTID sets, as in `@@gtid_executed` and `session_track_gtids`:
 * `uuid:1-5:7-9,uuid2:1-3`, and with MySQL 8.4 tags `uuid:1-5:tag:1-3`.
 *
 * Unlike MariaDB there is no order between transactions: a set is just the transactions it holds, so
 * "has applied" is set inclusion (`contains`) and "must see both" is `union`. A failover gives the new
 * primary's transactions its own server UUID; the old UUID's intervals stay in every set, so nothing
 * special happens.
 *
 * Accepted text, as the server does: whitespace around elements, UUIDs in any case (kept lower-case),
 * intervals in any order and overlapping (merged), a UUID repeated (merged), empty elements between commas.
 * Tags (`[a-z_][a-z0-9_]{0,31}`, case-insensitive, kept lower-case) apply to the intervals after them until
 * the next tag. Rejected: UUIDs without dashes, `0` or a reversed interval (`5-3`), numbers above 2^63-1.
 */

/** An inclusive range of transaction numbers, 1 <= start <= end <= 2^63-1. */
export interface GtidInterval {
  readonly start: bigint;
  readonly end: bigint;
}

/** The transactions of one source: a server UUID and a tag (`''` when untagged). */
export interface GtidSetEntry {
  /** Lower-case `8-4-4-4-12` hex. */
  readonly uuid: string;
  /** Lower-case tag, or `''`. */
  readonly tag: string;
  /** Sorted, non-empty, neither overlapping nor adjacent. */
  readonly intervals: readonly GtidInterval[];
}

/** A GTID set: entries sorted by (uuid, tag), none empty, frozen. The empty array is the empty set. */
export type MySqlGtidSet = readonly GtidSetEntry[];

export const MAX_GNO = (1n << 63n) - 1n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG = /^[a-z_][a-z0-9_]{0,31}$/;
const INTERVAL = /^(\d{1,19})(?:\s*-\s*(\d{1,19}))?$/;

export const EMPTY: MySqlGtidSet = Object.freeze([]);

export function parse(text: string): ParseResult<MySqlGtidSet> {
  const collected = new Map<string, { uuid: string; tag: string; intervals: GtidInterval[] }>();
  for (const element of text.split(',')) {
    if (element.trim() === '') continue;
    const [head, ...parts] = element.split(':').map((part) => part.trim().toLowerCase());
    if (head === undefined || !UUID.test(head))
      return failed(`"${clip(element)}" does not start with a UUID`);
    let tag = '';
    for (const part of parts) {
      if (TAG.test(part)) {
        tag = part;
        continue;
      }
      const interval = parseInterval(part);
      if (interval === undefined) return failed(`"${clip(part)}" in "${clip(element)}" is not an interval`);
      const key = `${head}:${tag}`;
      let entry = collected.get(key);
      if (entry === undefined) {
        entry = { uuid: head, tag, intervals: [] };
        collected.set(key, entry);
      }
      entry.intervals.push(interval);
    }
  }
  return parsed(build(collected.values()));
}

function parseInterval(text: string): GtidInterval | undefined {
  const match = INTERVAL.exec(text);
  if (!match) return undefined;
  const start = BigInt(match[1]!);
  const end = match[2] === undefined ? start : BigInt(match[2]);
  if (start < 1n || end < start || end > MAX_GNO) return undefined;
  return { start, end };
}

/** Canonical text: entries in order, one per UUID (`uuid:1-5:tag:1-3`), joined by `,` without spaces. */
export function format(set: MySqlGtidSet): string {
  let out = '';
  let previousUuid: string | undefined;
  for (const entry of set) {
    if (entry.uuid !== previousUuid) {
      if (previousUuid !== undefined) out += ',';
      out += entry.uuid;
      previousUuid = entry.uuid;
    }
    if (entry.tag !== '') out += `:${entry.tag}`;
    for (const { start, end } of entry.intervals) out += start === end ? `:${start}` : `:${start}-${end}`;
  }
  return out;
}

/** True when every transaction in `required` is in `executed` (`GTID_SUBSET(required, executed)`). */
export function contains(executed: MySqlGtidSet, required: MySqlGtidSet): boolean {
  let i = 0;
  for (const need of required) {
    while (i < executed.length && compareEntries(executed[i]!, need) < 0) i++;
    const have = executed[i];
    if (have === undefined || compareEntries(have, need) !== 0) return false;
    if (!intervalsContain(have.intervals, need.intervals)) return false;
  }
  return true;
}

function intervalsContain(have: readonly GtidInterval[], need: readonly GtidInterval[]): boolean {
  let k = 0;
  for (const { start, end } of need) {
    while (k < have.length && have[k]!.end < start) k++;
    const range = have[k];
    if (range === undefined || range.start > start || range.end < end) return false;
  }
  return true;
}

/** The transactions of `a` that `b` lacks (`GTID_SUBTRACT(a, b)`): empty when `b` contains `a`. */
export function subtract(a: MySqlGtidSet, b: MySqlGtidSet): MySqlGtidSet {
  const out: { uuid: string; tag: string; intervals: GtidInterval[] }[] = [];
  for (const entry of a) {
    const other = b.find((e) => compareEntries(e, entry) === 0);
    let left: GtidInterval[] = [...entry.intervals];
    for (const cut of other?.intervals ?? []) {
      const next: GtidInterval[] = [];
      for (const range of left) {
        if (cut.end < range.start || cut.start > range.end) {
          next.push(range);
          continue;
        }
        if (cut.start > range.start) next.push({ start: range.start, end: cut.start - 1n });
        if (cut.end < range.end) next.push({ start: cut.end + 1n, end: range.end });
      }
      left = next;
    }
    if (left.length > 0) out.push({ uuid: entry.uuid, tag: entry.tag, intervals: left });
  }
  return build(out);
}

/** Every transaction of either set. */
export function union(a: MySqlGtidSet, b: MySqlGtidSet): MySqlGtidSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const collected = new Map<string, { uuid: string; tag: string; intervals: GtidInterval[] }>();
  for (const entry of [...a, ...b]) {
    const key = `${entry.uuid}:${entry.tag}`;
    const found = collected.get(key);
    if (found === undefined) collected.set(key, { ...entry, intervals: [...entry.intervals] });
    else found.intervals.push(...entry.intervals);
  }
  return build(collected.values());
}

/**
 * The same set with at most `maxIntervals` intervals per entry, made by filling the smallest gaps. The
 * result contains the input, so requiring it is safe (never a stale read) but may wait for transactions
 * the scope did not need: other sessions' writes in the gaps. A session's own GTIDs interleave with
 * everyone else's, so without this a long session's set would grow by one interval per write.
 */
export function coarsen(set: MySqlGtidSet, maxIntervals: number): MySqlGtidSet {
  const limit = Math.max(1, Math.floor(maxIntervals));
  if (set.every((entry) => entry.intervals.length <= limit)) return set;
  return Object.freeze(
    set.map((entry) =>
      entry.intervals.length <= limit
        ? entry
        : Object.freeze({ ...entry, intervals: fillSmallestGaps(entry.intervals, limit) }),
    ),
  );
}

function fillSmallestGaps(intervals: readonly GtidInterval[], limit: number): readonly GtidInterval[] {
  // gap i lies between intervals i and i+1; fill the (length - limit) smallest, earliest first on ties.
  const gaps = intervals.slice(1).map((next, i) => ({ i, size: next.start - intervals[i]!.end }));
  gaps.sort((x, y) => (x.size === y.size ? x.i - y.i : x.size < y.size ? -1 : 1));
  const filled = new Set(gaps.slice(0, intervals.length - limit).map((gap) => gap.i));
  const out: GtidInterval[] = [];
  let start = intervals[0]!.start;
  intervals.forEach((interval, i) => {
    if (filled.has(i)) return;
    out.push(Object.freeze({ start, end: interval.end }));
    const next = intervals[i + 1];
    if (next !== undefined) start = next.start;
  });
  return Object.freeze(out);
}

/** Number of intervals in the set (a measure of its encoded size). */
export function intervalCount(set: MySqlGtidSet): number {
  return set.reduce((sum, entry) => sum + entry.intervals.length, 0);
}

/**
 * Why `set` is not canonical (entries sorted and unique by (uuid, tag), valid UUIDs and tags, intervals
 * sorted, in range, neither overlapping nor adjacent, none empty), or undefined when it is.
 */
export function problem(set: MySqlGtidSet): string | undefined {
  let previous: GtidSetEntry | undefined;
  for (const entry of set) {
    if (typeof entry.uuid !== 'string' || !UUID.test(entry.uuid))
      return 'uuid must be lower-case 8-4-4-4-12 hex';
    if (typeof entry.tag !== 'string' || (entry.tag !== '' && !TAG.test(entry.tag))) return 'invalid tag';
    if (previous !== undefined && compareEntries(previous, entry) >= 0)
      return 'entries must be unique and sorted';
    if (!Array.isArray(entry.intervals) || entry.intervals.length === 0) return 'an entry has no intervals';
    let floor = 1n;
    for (const { start, end } of entry.intervals) {
      if (typeof start !== 'bigint' || typeof end !== 'bigint') return 'interval bounds must be bigints';
      if (start < floor || end < start || end > MAX_GNO) {
        return 'intervals must be sorted, disjoint, non-adjacent and within 1..2^63-1';
      }
      floor = end + 2n;
    }
    previous = entry;
  }
  return undefined;
}

export function compareEntries(
  a: Pick<GtidSetEntry, 'uuid' | 'tag'>,
  b: Pick<GtidSetEntry, 'uuid' | 'tag'>,
): number {
  if (a.uuid !== b.uuid) return a.uuid < b.uuid ? -1 : 1;
  if (a.tag !== b.tag) return a.tag < b.tag ? -1 : 1;
  return 0;
}

function build(entries: Iterable<{ uuid: string; tag: string; intervals: GtidInterval[] }>): MySqlGtidSet {
  const out: GtidSetEntry[] = [];
  for (const { uuid, tag, intervals } of entries) {
    if (intervals.length > 0) out.push(Object.freeze({ uuid, tag, intervals: normalize(intervals) }));
  }
  out.sort(compareEntries);
  return Object.freeze(out);
}

function normalize(intervals: GtidInterval[]): readonly GtidInterval[] {
  intervals.sort((x, y) => (x.start === y.start ? 0 : x.start < y.start ? -1 : 1));
  const out: GtidInterval[] = [];
  let current = intervals[0]!;
  for (const next of intervals.slice(1)) {
    if (next.start <= current.end + 1n) {
      if (next.end > current.end) current = { start: current.start, end: next.end };
    } else {
      out.push(Object.freeze(current));
      current = next;
    }
  }
  out.push(Object.freeze(current));
  return Object.freeze(out);
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
