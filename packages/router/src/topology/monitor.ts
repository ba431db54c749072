import { isConnectionFailure } from '../connection-failure.js';
import { formatPosition, type GtidPosition } from '../consistency/position.js';
import type {
  Dialect,
  HeartbeatStatements,
  HeartbeatTable,
  Probe,
  ReplicaState,
} from '../dialect/dialect.js';
import type { DriverConnection } from '../driver.js';
import { TlsVerificationError } from '../errors.js';
import { tlsFailureOf } from '../tls-failure.js';
import { TIMED_OUT, withinMs } from '../within.js';
import { catchUpTarget, catchUpWaitMs, caughtUpWithin, type NodeProbe, replicaProbe } from './caught-up.js';
import { discoverPrimary, type PrimaryDecision } from './discovery.js';
import { type LagSource, nextRotation, type OutOfRotationReason, type RotationState } from './rotation.js';

/** A node the monitor watches: every configured node, primary and replicas alike (roles can change). */
export interface MonitoredNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

import type { TopologyLogger } from './topology-logger.js';

export type { TopologyLogger } from './topology-logger.js';

export interface TopologyChange {
  readonly kind: 'rotation' | 'primary';
  readonly node: string;
  /** For `rotation`: in or out; for `primary`: the node that takes writes now ('' when none). */
  readonly inRotation?: boolean;
  readonly reason?: string;
}

export interface MonitorConfig {
  readonly nodes: readonly MonitoredNode[];
  /** The node configured as primary: the heartbeat writer until discovery says otherwise. */
  readonly configuredPrimary: string;
  readonly intervalMs: number;
  /** Bound on one node's probe (connect + queries); a node that does not answer within it is unreachable. */
  readonly timeoutMs: number;
  readonly maxLagMs: number;
  readonly readmitAfterMs: number;
  /** Undefined disables the heartbeat (lag then comes from Seconds_Behind_Master, in whole seconds). */
  readonly heartbeat: (HeartbeatTable & { readonly create: boolean; readonly writerId: number }) | undefined;
  /** Opens the monitor's own connection to a node (never a pool connection). */
  readonly connect: (node: MonitoredNode) => Promise<DriverConnection>;
  readonly logger: TopologyLogger;
  readonly onChange: (change: TopologyChange) => void;
  /** Told the replicas in rotation each time they are recomputed (at creation and after every round). */
  readonly onRotation?: (inRotation: ReadonlySet<string>) => void;
  /** The dialect for the first node's version string (the router's `dialect` option). */
  readonly detectDialect: (serverVersion: string) => Dialect;
}

/** One node as `topology()` reports it. */
export interface NodeStatus {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `primary` (takes writes now), `replica`, or `unknown` before the first probe / while unreachable. */
  readonly role: 'primary' | 'replica' | 'unknown';
  readonly reachable: boolean;
  /**
   * Replication lag in ms (heartbeat, else Seconds_Behind_Master), capped by what the round's GTID positions
   * prove: a replicating replica that had, or within the round's catch-up wait (`CATCH_UP_WAIT_MS`, 50 ms)
   * reached, everything the primary had committed when the round read it reports at most the time from that
   * read to the replica's answer (a few ms on a LAN), every round. The cap is an upper bound, never less than
   * the real lag; a replica that is really behind reports the heartbeat's figure. Null when unknown or not a
   * replica.
   */
  readonly lagMs: number | null;
  /**
   * Where `lagMs` comes from (absent while it is null): `positions` on a round whose GTID positions proved
   * the replica caught up, else `heartbeat`, `seconds behind`, or `last known` while no primary is reachable
   * (an unreachable replica keeps its last figure and that figure's source).
   */
  readonly lagSource?: LagSource;
  /** A replica that may serve reads now. Always false for the primary. */
  readonly inRotation: boolean;
  /** Why a replica is out of rotation. */
  readonly reason?: OutOfRotationReason;
  /** The node's applied GTID position, in the server's own text form. */
  readonly position?: string;
  /**
   * The last probe error, when unreachable. A node whose TLS is not trusted says so: the message of the
   * `TlsVerificationError` statements would get (what failed, what to do).
   */
  readonly error?: string;
  /** When the last probe finished (ms since the epoch); 0 before the first. */
  readonly checkedAt: number;
}

interface NodeRecord {
  readonly node: MonitoredNode;
  connection: DriverConnection | undefined;
  /** The heartbeat writer's own connection (the primary only). */
  writer: DriverConnection | undefined;
  /** The heartbeat upsert in flight, if any. */
  writing: Promise<void> | undefined;
  probe: NodeProbe | undefined;
  rotation: RotationState | undefined;
  checkedAt: number;
}

class ProbeTimeout extends Error {}

/** What a node's position read said, and when it was asked. */
type PositionRead = Pick<NodeProbe, 'position' | 'positionAskedAt'>;

/**
 * Polls every node every `intervalMs` with its own small connection: reachable?, role (`read_only`),
 * replication threads, applied GTID position, lag. From those it keeps which replicas are in rotation
 * (with hysteresis), which node is primary, and writes the heartbeat on the primary.
 */
export class TopologyMonitor {
  private readonly records: NodeRecord[];
  private dialect: Dialect | undefined;
  private heartbeat: HeartbeatStatements | undefined;
  private heartbeatReady = false;
  private decision: PrimaryDecision;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private firstRound: Promise<void> | undefined;
  private warnedStatus = false;
  /** Names of the replicas that may serve reads now: read on every statement, so kept ready-made. */
  private readable = new Set<string>();

  constructor(private readonly config: MonitorConfig) {
    this.records = config.nodes.map((node) => ({
      node,
      connection: undefined,
      writer: undefined,
      writing: undefined,
      probe: undefined,
      rotation: undefined,
      checkedAt: 0,
    }));
    // Until the first probe, trust the configuration.
    this.decision = { kind: 'primary', node: config.configuredPrimary };
    this.refreshReadable();
  }

  /** Starts polling; the promise resolves after the first round (every node probed once). */
  start(): Promise<void> {
    this.firstRound ??= this.runRound().then(() => this.schedule());
    return this.firstRound;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round?.catch(() => {});
    for (const record of this.records) {
      this.dropConnection(record);
      this.dropWriter(record, record.writer);
    }
  }

  /** The write target now. */
  primary(): PrimaryDecision {
    return this.decision;
  }

  /** Whether a replica may serve reads now. Before its first probe, a configured replica may. */
  inRotation(name: string): boolean {
    return this.readable.has(name);
  }

  /** Recomputes the set `inRotation` answers from, after every decision (not on every read). */
  private refreshReadable(): void {
    const readable = new Set<string>();
    for (const record of this.records) {
      const name = record.node.name;
      if (this.isPrimary(name)) continue;
      const good = record.rotation === undefined ? record.probe === undefined : record.rotation.inRotation;
      if (good) readable.add(name);
    }
    this.readable = readable;
    this.config.onRotation?.(readable);
  }

  /** The GTID position the node had applied at its last probe. */
  appliedPosition(name: string): GtidPosition | undefined {
    return this.records.find((r) => r.node.name === name)?.probe?.position;
  }

  /** The dialect detected at the first connect, if any node answered yet. */
  detectedDialect(): Dialect | undefined {
    return this.dialect;
  }

  snapshot(): NodeStatus[] {
    return this.records.map((record) => this.status(record));
  }

  private isPrimary(name: string): boolean {
    return this.decision.kind === 'primary' && this.decision.node === name;
  }

  private status(record: NodeRecord): NodeStatus {
    const { node, probe, rotation } = record;
    const isPrimary = this.isPrimary(node.name);
    const role = isPrimary ? 'primary' : probe?.reachable && probe.readOnly ? 'replica' : 'unknown';
    const base = {
      name: node.name,
      host: node.host,
      port: node.port,
      role,
      reachable: probe?.reachable ?? false,
      lagMs: isPrimary ? null : (rotation?.lagMs ?? null),
      inRotation: this.inRotation(node.name) && probe !== undefined,
      checkedAt: record.checkedAt,
    } as const;
    return {
      ...base,
      ...(!isPrimary && rotation?.reason ? { reason: rotation.reason } : {}),
      ...(!isPrimary && rotation?.lagSource ? { lagSource: rotation.lagSource } : {}),
      ...(probe?.position ? { position: formatPosition(probe.position) } : {}),
      ...(probe?.error ? { error: probe.error } : {}),
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.runRound().finally(() => this.schedule());
    }, this.config.intervalMs);
    this.timer.unref();
  }

  private async runRound(): Promise<void> {
    const startedAt = performance.now();
    const writer = this.decision.kind === 'primary' ? this.decision.node : undefined;
    // Each replica's catch-up check starts once the writer's position is read, not after its heartbeat
    // upsert (a commit, often the round's slowest step): the bound it proves is shorter by that much.
    const writerRead = settleOnce<PositionRead | undefined>();
    if (!this.records.some((r) => r.node.name === writer)) writerRead.settle(undefined);
    await Promise.all(
      this.records.map(async (record) => {
        if (record.node.name === writer) {
          await this.probeNode(record, true, writerRead.settle);
          writerRead.settle(undefined);
        } else {
          await this.probeNode(record, false);
          await this.checkCaughtUp(record, await writerRead.promise, startedAt);
        }
      }),
    );
    if (this.stopped) return;
    this.decide(Date.now());
  }

  private async probeNode(
    record: NodeRecord,
    writeHeartbeat: boolean,
    onPosition?: (read: PositionRead) => void,
  ): Promise<void> {
    try {
      record.probe = await within(this.probeOnce(record, writeHeartbeat, onPosition), this.config.timeoutMs);
    } catch (error) {
      // A hung or broken connection is never reused: the next round connects afresh.
      this.dropConnection(record);
      record.probe = {
        reachable: false,
        readOnly: false,
        replica: undefined,
        heartbeatLagMs: undefined,
        position: undefined,
        error: probeError(record.node, error),
      };
    } finally {
      record.checkedAt = Date.now();
    }
  }

  /**
   * The writer's position, read a moment before or after a replica's, often includes a heartbeat upsert
   * (another router's, or an app write) that the replica applies a moment later: without this check the
   * round proves nothing and the replica reports the heartbeat's age (up to one interval). The replica is
   * given a few ms (`catchUpWaitMs`) to apply that position; the round grows by at most twice that.
   */
  private async checkCaughtUp(
    record: NodeRecord,
    writer: PositionRead | undefined,
    startedAt: number,
  ): Promise<void> {
    const probe = record.probe;
    const position = probe && catchUpTarget(probe, writer);
    const waitMs = catchUpWaitMs(this.config, performance.now() - startedAt);
    if (!probe || !position || waitMs === undefined) return;
    const at = await this.waitForPosition(record, position, waitMs);
    if (at !== undefined) record.probe = { ...probe, caughtUp: { position, at } };
  }

  /**
   * When the node answered that it had applied `position`; undefined when it had not within `waitMs`, or the
   * check failed. The node stays reachable either way: this round's probe already answered for it.
   */
  private async waitForPosition(
    record: NodeRecord,
    position: GtidPosition,
    waitMs: number,
  ): Promise<number | undefined> {
    const connection = record.connection;
    const wait = this.dialect?.waitForPosition(position, waitMs);
    if (!connection || !wait) return undefined;
    try {
      // Twice the wait leaves room for the round trip, and cuts a server that rounds the wait up to whole
      // seconds (MySQL before 8.0.22).
      const outcome = await within(run(connection, wait), 2 * waitMs);
      return outcome === 'reached' ? performance.now() : undefined;
    } catch (error) {
      // A connection still inside a wait we gave up on, or broken, is never reused.
      if (error instanceof ProbeTimeout || isConnectionFailure(error)) this.dropConnection(record);
      return undefined;
    }
  }

  private async probeOnce(
    record: NodeRecord,
    writeHeartbeat: boolean,
    onPosition: ((read: PositionRead) => void) | undefined,
  ): Promise<NodeProbe> {
    const connection = await this.connection(record);
    const dialect = this.dialect as Dialect;
    const role = await run(connection, dialect.role);
    const replica = await this.replicaStatus(connection, dialect);
    const positionAskedAt = performance.now();
    const position = await run(connection, dialect.appliedPosition);
    const positionReadAt = performance.now();
    onPosition?.({ position, positionAskedAt });
    let heartbeatLagMs: number | null | undefined;
    if (this.heartbeat && writeHeartbeat && !role.readOnly) {
      this.writeHeartbeat(record, this.heartbeat);
    } else if (this.heartbeat && replica !== undefined) {
      // Before the table exists (or replicates), fall back to Seconds_Behind_Master.
      heartbeatLagMs = await run(connection, this.heartbeat.lag).catch(() => undefined);
    }
    return {
      reachable: true,
      readOnly: role.readOnly,
      replica,
      heartbeatLagMs,
      position,
      positionAskedAt,
      positionReadAt,
    };
  }

  /**
   * Replication status, or `unknown` when the server refuses it (the account lacks REPLICA MONITOR /
   * REPLICATION CLIENT): then the heartbeat alone tells whether a replica is current. A lost
   * connection is still a failed probe.
   */
  private async replicaStatus(
    connection: DriverConnection,
    dialect: Dialect,
  ): Promise<ReplicaState | undefined | 'unknown'> {
    try {
      return await run(connection, dialect.replicaStatus);
    } catch (error) {
      if (isConnectionFailure(error)) throw error;
      if (!this.warnedStatus) {
        this.warnedStatus = true;
        this.config.logger.warn(
          'rwsplit: the monitor cannot read replication status; lag comes from the heartbeat only (grant REPLICA MONITOR or REPLICATION CLIENT to the monitor user)',
          { error: error instanceof Error ? error.message : String(error) },
        );
      }
      return 'unknown';
    }
  }

  private async connection(record: NodeRecord): Promise<DriverConnection> {
    if (record.connection) return record.connection;
    const connection = await this.config.connect(record.node);
    connection.on('error', () => this.dropConnection(record));
    if (!this.dialect) {
      const [rows] = await connection.query('SELECT VERSION() AS version');
      const version = Array.isArray(rows) ? String((rows[0] as { version?: unknown })?.version ?? '') : '';
      this.dialect = this.config.detectDialect(version);
      const table = this.config.heartbeat;
      this.heartbeat = table ? this.dialect.heartbeat(table) : undefined;
    }
    if (this.heartbeat) await exec(connection, this.heartbeat.sessionSetup);
    record.connection = connection;
    return connection;
  }

  private dropConnection(record: NodeRecord): void {
    record.connection?.destroy();
    record.connection = undefined;
  }

  /**
   * The heartbeat upsert, on a connection of its own and outside the probe's bound: a commit may wait (a
   * semi-sync primary waits for a replica's acknowledgement, up to its timeout, when a replica stalls), and
   * a slow commit is not an unreachable primary. One at a time: a round whose upsert is still running
   * skips its own. Bounded, so a writer stuck on a dead socket is replaced.
   */
  private writeHeartbeat(record: NodeRecord, heartbeat: HeartbeatStatements): void {
    if (record.writing !== undefined || this.stopped) return;
    const boundMs = Math.max(4 * this.config.timeoutMs, 5_000);
    const write = async () => {
      if (record.writer === undefined) {
        const connection = await this.config.connect(record.node);
        connection.on('error', () => this.dropWriter(record, connection));
        await exec(connection, heartbeat.sessionSetup);
        record.writer = connection;
      }
      if (!this.heartbeatReady && this.config.heartbeat?.create)
        await exec(record.writer, heartbeat.createTable);
      await exec(record.writer, heartbeat.upsert(this.config.heartbeat?.writerId ?? 1));
      this.heartbeatReady = true;
    };
    record.writing = withinMs(write(), boundMs)
      .then((outcome) => {
        if (outcome === TIMED_OUT) this.dropWriter(record, record.writer);
      })
      .catch(() => this.dropWriter(record, record.writer))
      .finally(() => {
        record.writing = undefined;
      });
  }

  private dropWriter(record: NodeRecord, connection: DriverConnection | undefined): void {
    if (connection === undefined || record.writer !== connection) return;
    connection.destroy();
    record.writer = undefined;
  }

  /** Applies the round's probes: rotation per replica, then the primary; reports every change. */
  private decide(now: number): void {
    const policy = { maxLagMs: this.config.maxLagMs, readmitAfterMs: this.config.readmitAfterMs };
    const decision = discoverPrimary(
      this.records.map((r) => ({
        name: r.node.name,
        reachable: r.probe?.reachable ?? false,
        readOnly: r.probe?.readOnly ?? true,
      })),
    );
    this.changePrimary(decision);
    // With no primary to replicate from, every replica's IO thread is down and its heartbeat ages: keep
    // serving reads from those still applying, judged by the lag they had when the primary was lost.
    const primaryLost = decision.kind === 'none';
    const primaryProbe =
      decision.kind === 'primary'
        ? this.records.find((r) => r.node.name === decision.node)?.probe
        : undefined;
    for (const record of this.records) {
      if (!record.probe) continue;
      const before = record.rotation;
      const probe = replicaProbe(
        record.probe,
        primaryLost ? (before?.lagMs ?? null) : undefined,
        caughtUpWithin(record.probe, primaryProbe),
      );
      record.rotation = nextRotation(before, probe, now, policy);
      const wasIn = before?.inRotation ?? true;
      if (wasIn !== record.rotation.inRotation && !this.isPrimary(record.node.name)) {
        const change = {
          kind: 'rotation' as const,
          node: record.node.name,
          inRotation: record.rotation.inRotation,
          ...(record.rotation.reason ? { reason: record.rotation.reason } : {}),
        };
        this.config.logger.info(
          `rwsplit: replica ${record.node.name} ${change.inRotation ? 'back in rotation' : `out of rotation (${change.reason})`}`,
          { node: record.node.name, lagMs: record.rotation.lagMs, reason: change.reason },
        );
        this.config.onChange(change);
      }
    }
    this.refreshReadable();
  }

  private changePrimary(decision: PrimaryDecision): void {
    const before = this.decision;
    this.decision = decision;
    const key = (d: PrimaryDecision) =>
      d.kind === 'primary' ? d.node : d.kind === 'split-brain' ? `!${d.nodes.join(',')}` : '';
    if (key(before) === key(decision)) return;
    if (decision.kind === 'primary') {
      this.config.logger.info(`rwsplit: primary is now ${decision.node}`, { node: decision.node });
      this.config.onChange({ kind: 'primary', node: decision.node });
    } else {
      const reason =
        decision.kind === 'split-brain'
          ? `split brain: ${decision.nodes.join(' and ')} are both writable`
          : decision.reason;
      this.config.logger.warn(`rwsplit: no usable primary (${reason}); writes fail until one is`, { reason });
      this.config.onChange({ kind: 'primary', node: '', reason });
    }
  }
}

/** A probe's failure as `topology()` reports it: a TLS trust failure says so, and what to do about it. */
function probeError(node: MonitoredNode, error: unknown): string {
  const tls = tlsFailureOf(error);
  if (tls !== undefined) {
    return new TlsVerificationError(node.name, `${node.host}:${node.port}`, tls, error).message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** A promise and its resolver; settling again is a no-op. */
function settleOnce<T>(): { promise: Promise<T>; settle: (value: T) => void } {
  let settle: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return { promise, settle };
}

/** `work`, or a `ProbeTimeout` after `ms` (the work itself is not cancelled). */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  const outcome = await withinMs(work, ms);
  if (outcome === TIMED_OUT) throw new ProbeTimeout(`no answer within ${ms} ms`);
  return outcome;
}

async function run<T>(connection: DriverConnection, probe: Probe<T>): Promise<T> {
  const [rows] = await connection.query(probe.sql, probe.values);
  const result = probe.parse(rows);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

async function exec(
  connection: DriverConnection,
  statement: { sql: string; values: readonly unknown[] },
): Promise<void> {
  await connection.query(statement.sql, statement.values);
}
