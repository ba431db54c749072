import * as mariadbGtid from './mariadb-gtid.js';
import { failed, type ParseResult, parsed } from './parse-result.js';

/**
 * MariaDB's `@@gtid_binlog_state`: the last seq of every (domain, server id) pair in a node's binlog,
 * e.g. `0-1-133322,0-4-133323`. Unlike a position (`gtid_binlog_pos`, one GTID per domain) it keeps who
 * wrote what, and that is what tells a node that only lags (`0-1-40` against a state holding `0-1-42`)
 * from one that diverged (`0-1-43` written by a primary that died before it replicated, while the new
 * primary went on as `0-4-43`): seq numbers alone cannot, since both histories reach 43 (see
 * `mariadb-gtid.ts`). Needs `gtid_strict_mode`, under which one server's seqs in a domain only grow.
 */
export type BinlogState = readonly mariadbGtid.MariaDbGtid[];

/**
 * Parses a binlog state: `domain-server-seq` elements, each (domain, server id) pair at most once; sorted
 * by domain, then server id. The empty string is the empty state.
 */
export function parseBinlogState(text: string): ParseResult<BinlogState> {
  const entries: mariadbGtid.MariaDbGtid[] = [];
  for (const element of text.split(',')) {
    if (element.trim() === '') continue;
    const one = mariadbGtid.parse(element);
    if (!one.ok) return one;
    entries.push(...one.value);
  }
  entries.sort((a, b) => a.domain - b.domain || a.serverId - b.serverId);
  for (let i = 1; i < entries.length; i++) {
    const [x, y] = [entries[i - 1]!, entries[i]!];
    if (x.domain === y.domain && x.serverId === y.serverId) {
      return failed(`${x.domain}-${x.serverId} appears twice in a binlog state`);
    }
  }
  return parsed(Object.freeze(entries));
}

/**
 * The transactions of `node` that `reference` lacks, as the GTIDs that end them: for each (domain, server
 * id) of `node`, its entry if `reference` has no entry for that pair or a lower seq. Empty: everything
 * `node` has, `reference` has too (it may rejoin as a replica of `reference`). Non-empty: `node` holds
 * transactions no other history has ("errant"), and replicating from `reference` would lose or clash
 * with them.
 */
export function notIn(node: BinlogState, reference: BinlogState): mariadbGtid.MariaDbGtid[] {
  const missing: mariadbGtid.MariaDbGtid[] = [];
  for (const entry of node) {
    const have = reference.find((r) => r.domain === entry.domain && r.serverId === entry.serverId);
    if (have === undefined || have.seq < entry.seq) missing.push(entry);
  }
  return missing;
}

/** The union of several states: per (domain, server id), the highest seq any of them has. */
export function unionOf(states: readonly BinlogState[]): BinlogState {
  const best = new Map<string, mariadbGtid.MariaDbGtid>();
  for (const state of states) {
    for (const entry of state) {
      const key = `${entry.domain}-${entry.serverId}`;
      const found = best.get(key);
      if (found === undefined || found.seq < entry.seq) best.set(key, entry);
    }
  }
  return Object.freeze([...best.values()].sort((a, b) => a.domain - b.domain || a.serverId - b.serverId));
}

/** Canonical text of a state (or of what `notIn` returned). */
export function formatBinlogState(state: readonly mariadbGtid.MariaDbGtid[]): string {
  return state.map((g) => `${g.domain}-${g.serverId}-${g.seq}`).join(',');
}
