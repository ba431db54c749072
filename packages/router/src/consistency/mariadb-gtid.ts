import { failed, type ParseResult, parsed } from './parse-result.js';

/**
 * MariaDB GTID positions, as in `@@gtid_binlog_pos`, `@@gtid_slave_pos` and `@@last_gtid`:
 * `domain-server-seq[,domain-server-seq...]`, e.g. `0-1-42,1-3-7`; the empty string is "nothing".
 *
 * Order. MariaDB orders transactions per replication domain by `seq` alone: within a domain, seq numbers
 * only grow, whichever server wrote them (`MASTER_GTID_WAIT` compares the same way). The server id says
 * who wrote a transaction, not where it sits in the order. So after a failover the new primary's GTIDs
 * (`0-2-43`, new server id, same domain) are still ordered after the old primary's `0-1-42`.
 *
 * Failover and `gtid_strict_mode`. Strict mode makes every server refuse a binlog event whose seq is not
 * above the domain's last one, so a domain's history is one line and "has seq N" means "has everything of
 * that domain up to N". Without strict mode, or when a failover lost transactions (the old primary
 * committed `0-1-43` that never replicated, the new one then wrote its own `0-2-43`), two different
 * transactions share a seq. This module cannot tell them apart and neither can the server: a position
 * holding the lost `0-1-43` counts as covered by `0-2-43`. The lost write is gone either way; no replica
 * can ever show it.
 */

/** The last transaction of one replication domain. */
export interface MariaDbGtid {
  /** `gtid_domain_id`, 0 .. 2^32-1. */
  readonly domain: number;
  /** `server_id` of the server that wrote it, 0 .. 2^32-1; not part of the order. */
  readonly serverId: number;
  /** Sequence number within the domain, 0 .. 2^64-1. */
  readonly seq: bigint;
}

/** A position: at most one GTID per domain, sorted by domain, frozen. Empty = nothing. */
export type MariaDbGtidList = readonly MariaDbGtid[];

const MAX_UINT32 = 0xffff_ffff;
const MAX_UINT64 = (1n << 64n) - 1n;
const GTID = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/;

export const EMPTY: MariaDbGtidList = Object.freeze([]);

/**
 * Parses a GTID list. Whitespace around elements is ignored; a repeated domain, an empty element (`0-1-1,`)
 * or a number out of range is an error (the server never produces one).
 */
export function parse(text: string): ParseResult<MariaDbGtidList> {
  if (text.trim() === '') return parsed(EMPTY);
  const gtids: MariaDbGtid[] = [];
  for (const element of text.split(',')) {
    const match = GTID.exec(element.trim());
    if (!match) return failed(`"${clip(element)}" is not a MariaDB GTID (domain-server-seq)`);
    const domain = Number(match[1]);
    const serverId = Number(match[2]);
    const seq = BigInt(match[3]!);
    if (domain > MAX_UINT32 || serverId > MAX_UINT32 || seq > MAX_UINT64) {
      return failed(`"${clip(element)}" has a number out of range`);
    }
    gtids.push(Object.freeze({ domain, serverId, seq }));
  }
  gtids.sort((a, b) => a.domain - b.domain);
  for (let i = 1; i < gtids.length; i++) {
    if (gtids[i]!.domain === gtids[i - 1]!.domain) {
      return failed(`domain ${gtids[i]!.domain} appears twice in "${clip(text)}"`);
    }
  }
  return parsed(Object.freeze(gtids));
}

/** Canonical text: sorted by domain, no spaces; what `parse` and the server accept. */
export function format(list: MariaDbGtidList): string {
  return list.map((g) => `${g.domain}-${g.serverId}-${g.seq}`).join(',');
}

/**
 * True when a server at `applied` has everything `required` names: for every domain in `required`,
 * `applied`'s seq for that domain is at least as high. A domain missing from `applied` counts as seq 0.
 */
export function covers(applied: MariaDbGtidList, required: MariaDbGtidList): boolean {
  let i = 0;
  for (const need of required) {
    while (i < applied.length && applied[i]!.domain < need.domain) i++;
    const have = applied[i];
    const seq = have !== undefined && have.domain === need.domain ? have.seq : 0n;
    if (seq < need.seq) return false;
  }
  return true;
}

/**
 * What a scope must see after seeing both: per domain, the GTID with the higher seq. On equal seqs with
 * different server ids (diverged histories, see the module comment) the higher server id wins, only so
 * that the result does not depend on the argument order.
 */
export function merge(a: MariaDbGtidList, b: MariaDbGtidList): MariaDbGtidList {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out: MariaDbGtid[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.domain < y.domain)) {
      out.push(x!);
      i++;
    } else if (x === undefined || y.domain < x.domain) {
      out.push(y);
      j++;
    } else {
      out.push(later(x, y));
      i++;
      j++;
    }
  }
  return Object.freeze(out);
}

function later(x: MariaDbGtid, y: MariaDbGtid): MariaDbGtid {
  if (x.seq !== y.seq) return x.seq > y.seq ? x : y;
  return x.serverId >= y.serverId ? x : y;
}

/**
 * Why `list` is not a canonical position (domains strictly increasing, numbers in range), or undefined
 * when it is. For lists built by hand or decoded from bytes; `parse` and `merge` only make canonical ones.
 */
export function problem(list: MariaDbGtidList): string | undefined {
  let previous = -1;
  for (const g of list) {
    if (!isUint32(g.domain) || !isUint32(g.serverId))
      return 'domain and server id must be integers 0..2^32-1';
    if (typeof g.seq !== 'bigint' || g.seq < 0n || g.seq > MAX_UINT64)
      return 'seq must be a bigint 0..2^64-1';
    if (g.domain <= previous) return 'domains must be unique and sorted';
    previous = g.domain;
  }
  return undefined;
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_UINT32;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
