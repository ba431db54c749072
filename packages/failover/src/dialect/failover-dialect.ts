import type { Dialect, Flavor, Probe, Statement } from '@rwsplit/router/replication';

/**
 * A node's history: every transaction it has (executed, and for a replica also received but not yet
 * applied), in the flavour's own notation. Compared only through the dialect.
 */
export interface History {
  readonly flavor: Flavor;
  /**
   * MariaDB: `@@gtid_binlog_state` (last seq per domain and server id). MySQL: `@@gtid_executed`.
   * What the node has committed.
   */
  readonly executed: string;
  /** Committed plus received (relay log): MariaDB `Gtid_IO_Pos` merged in, MySQL `Retrieved_Gtid_Set`. */
  readonly received: string;
}

/** What the manager reads of one node each round, besides the router's role and replica status. */
export interface NodeFacts {
  /** `@@server_id`. */
  readonly serverId: number;
  /** MySQL's `@@server_uuid` (names its GTIDs); `''` on MariaDB. */
  readonly serverUuid: string;
  /** `@@gtid_binlog_state` / `@@gtid_executed`. */
  readonly executed: string;
  /** Semi-sync as this node runs it. */
  readonly semiSync: SemiSyncState;
}

export interface SemiSyncState {
  /** The source side is switched on (it waits for acknowledgements when it is the primary). */
  readonly sourceEnabled: boolean;
  /**
   * Commits are waiting for an acknowledgement right now: switched on, on, and at least one semi-sync
   * replica connected. False after a fall-back to asynchronous replication.
   */
  readonly active: boolean;
  /** Semi-sync replicas connected to this node. */
  readonly clients: number;
  /** Commits acknowledged by a replica, and commits that went without one (fall-back), since start. */
  readonly yesTx: number;
  readonly noTx: number;
  /** The replica side is switched on (it acknowledges what it receives). */
  readonly replicaEnabled: boolean;
}

/** Where a replica is pointed, and with which account. */
export interface Source {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /**
   * Replicate over TLS, verifying the source's certificate (chain and address) against this CA file, a
   * path on the replica's host. Undefined: a plain connection.
   */
  readonly caFile?: string;
}

export interface FollowOptions {
  /** The source's heartbeat to this replica (so it notices a silent source). */
  readonly heartbeatMs: number;
  /**
   * The node has been a primary (its own writes live only in its binlog): MariaDB must start replication
   * after them, not from its replication position.
   */
  readonly formerPrimary: boolean;
}

export interface SemiSyncSettings {
  readonly enabled: boolean;
  /** Ms a commit waits for an acknowledgement before the source falls back to asynchronous replication. */
  readonly timeoutMs: number;
}

/** How a bounded wait for the relay log ended. */
export type ApplyOutcome = 'applied' | 'timeout';

/**
 * Everything the failover manager says to a server, as data (statements and readers of their results),
 * built on the router's dialect for what the two share (role, replica status, GTID notation). The manager
 * keeps no flavour `if`s.
 */
export interface FailoverDialect {
  readonly flavor: Flavor;
  /** The router's dialect for the same servers. */
  readonly router: Dialect;
  /** `@@server_id`, the executed history and semi-sync state, in one probe. */
  readonly facts: Probe<NodeFacts>;
  /** `received` for a replica: what its IO thread has (`receivedGtids` of its status) on top of `executed`. */
  history(executed: string, receivedGtids: string): History;
  /**
   * The transactions `node` has that none of `others` has, leaving out those written by `ignoreServer`
   * (the failed primary: its transactions are not errant, only more or less far along). Text in the
   * flavour's notation; `''` when there are none.
   */
  errant(node: History, others: readonly History[], ignoreServer: { id: number; uuid: string }): string;
  /** The transactions of `node` that `reference` lacks (`''`: node may replicate from reference). */
  missing(node: string, reference: string): string;
  /** Orders two histories by how far along they are (received first, then executed): > 0 when `a` is ahead. */
  compare(a: History, b: History): number;
  /** Refuses writes from every account that may be refused (MySQL `super_read_only`). */
  readonly fence: readonly Statement[];
  /** Takes writes. */
  readonly unfence: readonly Statement[];
  /** Stops replication and the IO thread's reconnect attempts; keeps what was received. */
  readonly stopReceiving: readonly Statement[];
  /** (Re)starts the IO thread: it reconnects to the source (and takes up semi-sync settings). */
  readonly startReceiving: readonly Statement[];
  /** (Re)starts the applier only: it applies what was received while the IO thread stays off. */
  readonly startApplying: readonly Statement[];
  /** Waits at most `timeoutMs` until everything received is applied. */
  waitApplied(history: History, timeoutMs: number): Probe<ApplyOutcome>;
  /** Forgets the source: the node replicates from nobody. */
  readonly forgetSource: readonly Statement[];
  /** Points the node at `source` by GTID and starts replicating. */
  follow(source: Source, options: FollowOptions): readonly Statement[];
  /** Semi-sync on (or off) on both sides; the replica side takes effect when its IO thread restarts. */
  semiSync(settings: SemiSyncSettings): readonly Statement[];
  /** The leader's hold on a node: a lock of the connection it runs on (0 s wait). Reads 1 when taken. */
  takeLock(name: string): Probe<boolean>;
  /**
   * Ends a connection's session when it goes quiet for `seconds` (frees its lock with it): the bound on a
   * lock kept by a manager that hangs.
   */
  sessionLease(seconds: number): Statement;
  /** Rebuild support: the dump and load commands' arguments, or undefined when the flavour has none here. */
  readonly rebuild: RebuildCommands | undefined;
}

export interface RebuildCommands {
  /** Arguments for the dump program (after connection arguments): a consistent dump with its GTID position. */
  readonly dumpArgs: readonly string[];
  /** Statements run on the node before the load: wipe what it has of its own. */
  readonly beforeLoad: readonly Statement[];
  /** The load session's setup (as `--init-command`): nothing the load does goes to the node's binlog. */
  readonly loadInitCommand: string;
}
