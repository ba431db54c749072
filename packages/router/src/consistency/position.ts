import * as mariadbGtid from './mariadb-gtid.js';
import * as mysqlGtid from './mysql-gtid.js';
import { failed, type ParseResult, parsed } from './parse-result.js';

/** Which server family a position (and a dialect) belongs to. */
export type Flavor = 'mariadb' | 'mysql';

/**
 * A point in a primary's history that a scope must see: what a write committed, what a replica has
 * applied. Flavor-tagged because MariaDB and MySQL GTIDs mean different things (ordered per domain vs.
 * plain sets); the functions here dispatch on the tag so callers never do.
 */
export type GtidPosition = MariaDbPosition | MySqlPosition;

export interface MariaDbPosition {
  readonly flavor: 'mariadb';
  readonly gtids: mariadbGtid.MariaDbGtidList;
}

export interface MySqlPosition {
  readonly flavor: 'mysql';
  readonly gtidSet: mysqlGtid.MySqlGtidSet;
}

/**
 * The most intervals `merge` keeps per MySQL source (UUID + tag). Past it the smallest gaps are filled:
 * still safe, a little stricter, and a token stays a few hundred bytes however long a session writes.
 */
export const MAX_INTERVALS_PER_SOURCE = 8;

const EMPTY_MARIADB: MariaDbPosition = Object.freeze({ flavor: 'mariadb', gtids: mariadbGtid.EMPTY });
const EMPTY_MYSQL: MySqlPosition = Object.freeze({ flavor: 'mysql', gtidSet: mysqlGtid.EMPTY });

export function emptyPosition(flavor: Flavor): GtidPosition {
  return flavor === 'mariadb' ? EMPTY_MARIADB : EMPTY_MYSQL;
}

export function mariadbPosition(gtids: mariadbGtid.MariaDbGtidList): MariaDbPosition {
  return gtids.length === 0 ? EMPTY_MARIADB : Object.freeze({ flavor: 'mariadb', gtids });
}

export function mysqlPosition(gtidSet: mysqlGtid.MySqlGtidSet): MySqlPosition {
  return gtidSet.length === 0 ? EMPTY_MYSQL : Object.freeze({ flavor: 'mysql', gtidSet });
}

/** Parses the server's text for `flavor` (`0-1-42,1-3-7` or `uuid:1-5,...`). */
export function parsePosition(flavor: Flavor, text: string): ParseResult<GtidPosition> {
  if (flavor === 'mariadb') {
    const result = mariadbGtid.parse(text);
    return result.ok ? parsed(mariadbPosition(result.value)) : result;
  }
  if (flavor === 'mysql') {
    const result = mysqlGtid.parse(text);
    return result.ok ? parsed(mysqlPosition(result.value)) : result;
  }
  return failed(`unknown flavor ${String(flavor)}`);
}

/** The server's text for the position, as `MASTER_GTID_WAIT` / `WAIT_FOR_EXECUTED_GTID_SET` take it. */
export function formatPosition(position: GtidPosition): string {
  return position.flavor === 'mariadb'
    ? mariadbGtid.format(position.gtids)
    : mysqlGtid.format(position.gtidSet);
}

export function isEmpty(position: GtidPosition): boolean {
  return position.flavor === 'mariadb' ? position.gtids.length === 0 : position.gtidSet.length === 0;
}

/**
 * True when a server at `applied` has everything `required` names. An empty requirement is covered by
 * anything; a requirement of the other flavor by nothing (it cannot be proven, so read from the primary).
 */
export function covers(applied: GtidPosition, required: GtidPosition): boolean {
  if (isEmpty(required)) return true;
  if (applied.flavor === 'mariadb' && required.flavor === 'mariadb') {
    return mariadbGtid.covers(applied.gtids, required.gtids);
  }
  if (applied.flavor === 'mysql' && required.flavor === 'mysql') {
    return mysqlGtid.contains(applied.gtidSet, required.gtidSet);
  }
  return false;
}

/**
 * What a scope must see after seeing both: MariaDB per-domain max, MySQL union (coarsened to
 * `MAX_INTERVALS_PER_SOURCE`, see there). `covers(x, merge(a, b))` implies `covers(x, a)` and `covers(x, b)`.
 * Positions of different flavors only meet when the cluster itself changed flavor; `b` (the newer one,
 * by convention) wins, since the old one cannot be waited for on the new servers anyway.
 */
export function merge(a: GtidPosition, b: GtidPosition): GtidPosition {
  if (a.flavor === 'mariadb' && b.flavor === 'mariadb') {
    return mariadbPosition(mariadbGtid.merge(a.gtids, b.gtids));
  }
  if (a.flavor === 'mysql' && b.flavor === 'mysql') {
    return mysqlPosition(mysqlGtid.coarsen(mysqlGtid.union(a.gtidSet, b.gtidSet), MAX_INTERVALS_PER_SOURCE));
  }
  return b;
}

/** Why `position` is not a valid, canonical position, or undefined when it is (for hand-built values). */
export function positionProblem(position: GtidPosition): string | undefined {
  if (position === null || typeof position !== 'object') return 'not a position';
  if (position.flavor === 'mariadb') {
    return Array.isArray(position.gtids) ? mariadbGtid.problem(position.gtids) : 'gtids must be an array';
  }
  if (position.flavor === 'mysql') {
    return Array.isArray(position.gtidSet) ? mysqlGtid.problem(position.gtidSet) : 'gtidSet must be an array';
  }
  return 'unknown flavor';
}
