import { detectDialect, parseServerVersion } from '@rwsplit/router/replication';
import { type ResolvedConfig, resolveConfig } from './config.js';
import {
  type CandidateChoice,
  chooseCandidate,
  type PrimaryView,
  primaryView,
  type ReplicaVerdict,
  replicaVerdict,
  type Upkeep,
  upkeep,
} from './decide.js';
import type { FailoverDialect } from './dialect/failover-dialect.js';
import { MariaDbFailoverDialect } from './dialect/mariadb-failover.js';
import { MySqlFailoverDialect } from './dialect/mysql-failover.js';
import { FailoverError } from './errors.js';
import { type AskVote, Leadership, type Standing } from './leadership.js';
import { jsonLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { answerTimedOut, NodeLink } from './node-link.js';
import {
  follows,
  lostConnection,
  type NodeObservation,
  type ReachableNode,
  receiverStopped,
} from './observation.js';
import { rebuildNode } from './rebuild.js';
import { StoppedReceivers } from './stopped-receivers.js';
import { askVoteOverHttp } from './vote-client.js';

export interface ManagerOptions {
  /** JSON lines on stdout by default. */
  readonly log?: Logger;
  /** How peers are asked for their vote; HTTP by default. */
  readonly askVote?: AskVote;
}

/** What `status()` reports: the cluster as this manager sees it. */
export interface ManagerStatus {
  readonly id: string;
  readonly leader: boolean;
  readonly standing: Standing;
  readonly primary: string | undefined;
  readonly view: PrimaryView | undefined;
  readonly primaryFailures: number;
  readonly verdict: ReplicaVerdict | undefined;
  readonly cooldownUntil: number;
  readonly failovers: number;
  readonly lastFailover: FailoverReport | undefined;
  readonly nodes: readonly NodeReport[];
  readonly busy: string | undefined;
}

export interface NodeReport {
  readonly name: string;
  readonly state: NodeState;
  readonly detail: string;
  readonly readOnly: boolean | undefined;
  readonly source: string | undefined;
  readonly executed: string | undefined;
  readonly semiSyncActive: boolean | undefined;
}

/** Each node's state as the manager reports it (a label of `rwsplit_failover_node_state`). */
export type NodeState =
  | 'primary'
  | 'replica'
  | 'unreachable'
  | 'fenced'
  | 'diverged'
  | 'broken'
  | 'stopped'
  | 'rejoining'
  | 'unknown';

export const NODE_STATES: readonly NodeState[] = [
  'primary',
  'replica',
  'unreachable',
  'fenced',
  'diverged',
  'broken',
  'stopped',
  'rejoining',
  'unknown',
];

export interface FailoverReport {
  readonly kind: 'failover' | 'switchover';
  readonly from: string;
  readonly to: string;
  readonly startedAt: string;
  /** From the decision (failover) or the fence (switchover) to the new primary taking writes. */
  readonly durationMs: number;
  /** Switchover: how long writes were refused. */
  readonly writePauseMs?: number;
  /** Switchover: where the time went (fence, read the position, catch up, detach, open for writes), ms. */
  readonly steps?: Readonly<Record<string, number>>;
  readonly ranking?: CandidateChoice['ranking'];
  /** Every other node: following the new primary, or why not. */
  readonly replicas: readonly { readonly name: string; readonly outcome: string }[];
}

/**
 * The failover manager: probes every node each interval, keeps leadership by quorum, and as the leader
 * promotes the most advanced replica when the primary is gone (its probes fail `failAfter` times and its
 * replicas lost it too), fences any other writable node, rejoins nodes that can follow the primary and
 * reports those that cannot. Every decision is a JSON log line and a metric.
 */
export class FailoverManager {
  readonly config: ResolvedConfig;
  readonly metrics = new Metrics();
  private readonly log: Logger;
  private readonly links: Map<string, NodeLink>;
  private readonly leadership: Leadership;
  private dialect: FailoverDialect | undefined;
  private observations: NodeObservation[] = [];
  /** The last reachable observation of each node (a dead primary's server id, for errant checks). */
  private readonly lastSeen = new Map<string, ReachableNode>();
  /** Each node's source when it last had one, and whether it had lost it then. */
  private readonly lastSource = new Map<string, { host: string; port: number; lost: boolean }>();
  /** The IO threads this manager stopped to promote a replica, and whether those replicas still testify. */
  private readonly stoppedReceivers = new StoppedReceivers();
  private knownPrimary: string | undefined;
  private failures = 0;
  /** Consecutive rounds the known primary answered but was read-only. */
  private readOnlyRounds = 0;
  private view: PrimaryView | undefined;
  private verdict: ReplicaVerdict | undefined;
  private lastUpkeep: Upkeep | undefined;
  private cooldownUntil = 0;
  private failoverCount = 0;
  private lastFailover: FailoverReport | undefined;
  private busy: string | undefined;
  private readonly rejoining = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** The last message logged per key, so a state that persists is logged once, not every round. */
  private readonly said = new Map<string, string>();

  constructor(config: unknown, options: ManagerOptions = {}) {
    this.config = resolveConfig(config);
    this.log = options.log ?? jsonLogger(this.config.id);
    const { user, password, timeoutMs } = this.config;
    this.links = new Map(
      this.config.nodes.map((node) => [
        node.name,
        new NodeLink(node, { user, password, timeoutMs, caPem: this.config.tls?.caPem }),
      ]),
    );
    this.leadership = new Leadership(
      this.config,
      () => this.dialect,
      options.askVote ?? askVoteOverHttp(this.config.token, this.config.timeoutMs, this.config.tls?.caPem),
    );
    this.defineMetrics();
  }

  /** Starts the rounds; resolves after the first. */
  async start(): Promise<void> {
    this.log('info', {
      event: 'manager.start',
      nodes: this.config.nodes.map((n) => n.name),
      managers: this.config.managers.map((m) => m.id),
      quorum: this.leadership.quorum,
      semiSync: this.config.semiSync,
    });
    await this.tick();
  }

  /** Stops the rounds, waits for the one in progress, lets the locks go. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.leadership.close();
    for (const link of this.links.values()) link.drop();
    this.log('info', { event: 'manager.stop' });
  }

  /** A peer manager's vote request (from the HTTP API). */
  vote(candidate: string): { granted: boolean; supports: string } {
    if (!this.config.managers.some((m) => m.id === candidate)) return { granted: false, supports: '' };
    const answer = this.leadership.vote({ candidate });
    if (answer.granted)
      this.say('vote', `granted:${candidate}`, 'info', { event: 'vote.granted', to: candidate });
    return answer;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.running = this.round().catch((error: unknown) => {
      this.log('error', { event: 'round.failed', error: (error as Error).message });
    });
    await this.running;
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.config.intervalMs);
  }

  /** One round: observe, renew leadership, decide, act (as leader). */
  private async round(): Promise<void> {
    this.observations = await this.observeAll();
    const reachableNames = new Set(this.observations.filter((o) => o.reachable).map((o) => o.name));
    const standing = await this.leadership.renew(reachableNames);
    this.say('leader', String(standing.leader), 'info', {
      event: standing.leader ? 'leader.elected' : 'leader.lost',
      votes: standing.votes,
      quorum: standing.quorum,
      locks: standing.locks,
      peerVotes: standing.peerVotes,
      following: standing.following,
    });
    const view = primaryView(this.observations, this.knownPrimary);
    this.view = view;
    if (view.kind === 'primary') {
      if (this.knownPrimary !== view.node) {
        this.log('info', { event: 'primary.seen', primary: view.node, previous: this.knownPrimary });
      }
      this.knownPrimary = view.node;
      this.failures = 0;
      this.verdict = undefined;
    } else if (view.kind === 'none' && view.lastKnown !== undefined) {
      const known = this.observations.find((o) => o.name === view.lastKnown);
      this.failures = known?.reachable ? 0 : this.failures + 1;
      this.readOnlyRounds = known?.reachable ? this.readOnlyRounds + 1 : 0;
    }
    if (view.kind !== 'none') this.readOnlyRounds = 0;
    if (view.kind === 'split-brain') {
      this.say('split', view.writable.join(','), 'error', {
        event: 'split-brain',
        writable: view.writable,
        action:
          'none: more than one node is writable and none is known as the primary; make all but one read-only',
      });
    }
    this.updateMetrics(standing);
    if (!standing.leader || this.busy !== undefined || this.stopped) return;
    if (view.kind === 'primary') await this.keepUp(view.node);
    else if (view.kind === 'none' && view.lastKnown !== undefined) {
      if (this.readOnlyRounds >= this.config.failAfter) await this.reopen(view.lastKnown);
      else await this.considerFailover(view.lastKnown);
    }
  }

  private async observeAll(): Promise<NodeObservation[]> {
    return Promise.all(this.config.nodes.map((node) => this.observe(node.name)));
  }

  private async observe(name: string): Promise<NodeObservation> {
    const link = this.links.get(name)!;
    try {
      const dialect = await this.dialectVia(link);
      const role = await link.read(dialect.router.role);
      const replica = await link.read(dialect.router.replicaStatus);
      const facts = await link.read(dialect.facts);
      const observation: ReachableNode = {
        name,
        reachable: true,
        readOnly: role.readOnly,
        replica,
        facts,
        history: dialect.history(facts.executed, replica?.receivedGtids ?? ''),
      };
      this.lastSeen.set(name, observation);
      this.stoppedReceivers.observed(observation);
      if (replica !== undefined) {
        const source = { host: replica.sourceHost, port: replica.sourcePort };
        const stoppedAfterLoss =
          receiverStopped(observation) && this.stoppedReceivers.testifying(source).has(name);
        this.lastSource.set(name, { ...source, lost: lostConnection(observation) || stoppedAfterLoss });
      }
      this.say(`reach:${name}`, 'up', 'info', { event: 'node.reachable', node: name });
      return observation;
    } catch (error) {
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const errorCode = typeof cause?.code === 'string' ? cause.code : '';
      const message = (error as Error).message;
      this.say(`reach:${name}`, `down:${errorCode}`, 'warn', {
        event: 'node.unreachable',
        node: name,
        error: message,
      });
      return { name, reachable: false, error: message, errorCode };
    }
  }

  private async dialectVia(link: NodeLink): Promise<FailoverDialect> {
    if (this.dialect !== undefined) return this.dialect;
    await link.run({ sql: 'SELECT 1', values: [] });
    const version = link.version;
    const flavor = detectDialect(version).flavor;
    this.dialect =
      flavor === 'mariadb'
        ? new MariaDbFailoverDialect()
        : new MySqlFailoverDialect(parseServerVersion(version));
    return this.dialect;
  }

  /** The primary is healthy: fence, rejoin, keep semi-sync as configured. */
  private async keepUp(primary: string): Promise<void> {
    const dialect = this.dialect;
    if (dialect === undefined) return;
    const plan = upkeep(
      dialect,
      this.config.nodes,
      this.observations,
      primary,
      this.stoppedReceivers.names(),
    );
    this.lastUpkeep = plan;
    for (const name of plan.fence) {
      if (!(await this.leadership.confirm())) return;
      await this.step(name, 'fence', () => this.links.get(name)!.runAll(dialect.fence), { primary });
    }
    for (const { name, gtids } of plan.diverged) {
      this.say(`diverged:${name}`, gtids, 'error', {
        event: 'node.diverged',
        node: name,
        gtids,
        action: `kept out of rotation (read-only, not replicating); rebuild it: rwsplit-failover rejoin --rebuild ${name}`,
      });
    }
    for (const { name, error } of plan.broken) {
      this.say(`broken:${name}`, error, 'error', { event: 'replica.broken', node: name, error });
    }
    for (const name of plan.stopped) {
      this.say(`stopped:${name}`, 'stopped', 'warn', {
        event: 'replica.stopped',
        node: name,
        action: 'none: stopped by hand',
      });
    }
    for (const name of plan.resume) {
      if (!(await this.leadership.confirm())) return;
      await this.step(
        name,
        'resume',
        async () => {
          await this.links.get(name)!.runAll(dialect.startReceiving);
          this.stoppedReceivers.forget(name);
        },
        { primary, reason: 'its IO thread was stopped for a failover that did not happen' },
      );
    }
    for (const { name, formerPrimary } of plan.rejoin) {
      if (!(await this.leadership.confirm())) return;
      this.rejoining.add(name);
      try {
        await this.step(name, 'rejoin', () => this.follow(name, primary, formerPrimary), {
          primary,
          formerPrimary,
        });
      } finally {
        this.rejoining.delete(name);
      }
    }
    await this.keepSemiSync(primary);
  }

  /** Semi-sync as configured on the primary and its replicas (a restarted node may have lost it). */
  private async keepSemiSync(primary: string): Promise<void> {
    const dialect = this.dialect!;
    const wanted = this.config.semiSync.enabled;
    for (const observation of this.observations) {
      if (!observation.reachable) continue;
      const side =
        observation.name === primary
          ? observation.facts.semiSync.sourceEnabled
          : observation.facts.semiSync.replicaEnabled;
      if (side === wanted) continue;
      await this.step(
        observation.name,
        'semi-sync',
        async () => {
          await this.links.get(observation.name)!.runAll(dialect.semiSync(this.semiSyncSettings()));
          // The replica side takes effect when the IO thread reconnects.
          if (observation.name !== primary && observation.replica !== undefined) {
            await this.links
              .get(observation.name)!
              .runAll([...dialect.stopReceiving, ...dialect.startReceiving]);
          }
        },
        { enabled: wanted },
      );
    }
  }

  private semiSyncSettings() {
    const { enabled, whenNoAck, timeoutMs } = this.config.semiSync;
    // 'block': the longest wait the server takes (MariaDB and MySQL: an unsigned 32-bit count of ms).
    return { enabled, timeoutMs: whenNoAck === 'block' ? 4_294_967_295 : timeoutMs };
  }

  /**
   * The primary is back but read-only (every managed node starts so after a crash or restart) and no
   * other node took over: its replicas still follow it, so it is still the primary. It takes writes again.
   */
  private async reopen(primary: string): Promise<void> {
    const config = this.config.nodes.find((n) => n.name === primary)!;
    const elsewhere = this.observations.filter(
      (o) =>
        o.reachable && o.name !== primary && o.replica !== undefined && !follows(o, config.host, config.port),
    );
    if (elsewhere.length > 0) {
      this.say('reopen', 'withheld', 'warn', {
        event: 'primary.read-only',
        primary,
        action: `none: ${elsewhere.map((o) => o.name).join(', ')} replicate from another node`,
      });
      return;
    }
    const dialect = this.dialect!;
    const current = this.observations.find((o) => o.name === primary);
    // Back from a crash it may have dropped transactions it never saw acknowledged (binlog truncation at
    // recovery) that a replica received all the same: that replica is now ahead, and the primary's place
    // goes to it rather than to a node that lacks them.
    const ahead = this.observations.filter(
      (o) =>
        o.reachable &&
        o.name !== primary &&
        current?.reachable === true &&
        dialect.missing(o.history.received, current.history.executed) !== '',
    );
    if (ahead.length > 0) {
      this.say('reopen', 'behind', 'warn', {
        event: 'primary.behind',
        primary,
        ahead: ahead.map((o) => o.name),
        action: 'failover to the most advanced replica',
      });
      const verdict: ReplicaVerdict = {
        agree: true,
        lost: ahead.map((o) => o.name),
        stillConnected: [],
        cannotTell: [],
        reason: `${ahead.map((o) => o.name).join(', ')} have transactions ${primary} lacks`,
      };
      await this.exclusive('failover', () => this.failover(primary, verdict));
      return;
    }
    if (!(await this.leadership.confirm())) return;
    await this.step(
      primary,
      'reopen',
      async () => {
        const link = this.links.get(primary)!;
        await link.runAll(dialect.semiSync(this.semiSyncSettings()));
        await link.runAll(dialect.unfence);
      },
      { reason: 'the primary came back read-only and its replicas still follow it' },
    );
    this.readOnlyRounds = 0;
  }

  /** Nodes that follow nobody now but, when last seen following `primary`, had lost it. */
  private lostBefore(primary: { host: string; port: number }): Set<string> {
    const names = new Set<string>();
    for (const [name, source] of this.lastSource) {
      const now = this.observations.find((o) => o.name === name);
      if (
        now?.reachable &&
        now.replica === undefined &&
        source.host === primary.host &&
        source.port === primary.port &&
        source.lost
      ) {
        names.add(name);
      }
    }
    return names;
  }

  private async considerFailover(failed: string): Promise<void> {
    if (this.failures < this.config.failAfter) return;
    const failedConfig = this.config.nodes.find((n) => n.name === failed)!;
    const verdict = replicaVerdict(
      this.observations,
      failedConfig,
      this.lostBefore(failedConfig),
      this.stoppedReceivers.testifying(failedConfig),
    );
    this.verdict = verdict;
    if (!verdict.agree) {
      this.say('verdict', verdict.reason, 'warn', {
        event: 'failover.withheld',
        primary: failed,
        reason: verdict.reason,
      });
      return;
    }
    const now = Date.now();
    if (now < this.cooldownUntil) {
      this.say('cooldown', String(this.cooldownUntil), 'warn', {
        event: 'failover.cooldown',
        primary: failed,
        until: new Date(this.cooldownUntil).toISOString(),
        action: 'none until the cool-down ends (cooldownMs); promote by hand if needed',
      });
      return;
    }
    await this.exclusive('failover', () => this.failover(failed, verdict));
  }

  private async failover(failed: string, verdict: ReplicaVerdict): Promise<void> {
    const dialect = this.dialect!;
    const started = Date.now();
    const seen = this.lastSeen.get(failed);
    const choice = chooseCandidate(dialect, this.config.nodes, this.observations, {
      name: failed,
      serverId: seen?.facts.serverId ?? -1,
      serverUuid: seen?.facts.serverUuid ?? '',
      lastHistory: seen?.history,
    });
    this.log('info', {
      event: 'failover.decided',
      primary: failed,
      failures: this.failures,
      verdict: verdict.reason,
      chosen: choice.chosen?.name,
      ranking: choice.ranking,
    });
    const chosen = choice.chosen;
    if (chosen === undefined) {
      this.metrics.inc('rwsplit_failover_failures_total', { reason: 'no_candidate' });
      this.say('nocandidate', JSON.stringify(choice.ranking), 'error', {
        event: 'failover.no-candidate',
        primary: failed,
        ranking: choice.ranking,
      });
      return;
    }
    const link = this.links.get(chosen.name)!;
    if (!(await this.leadership.confirm())) return;
    // A candidate that follows nobody already forgot its source (a failover cut short after that step):
    // its relay log is gone with it, there is nothing left to apply.
    if (chosen.replica !== undefined && !(await this.applyRelayLog(link, chosen))) return;
    if (!(await this.leadership.confirm())) return;
    await link.runAll(dialect.forgetSource);
    this.stoppedReceivers.forget(chosen.name);
    await link.runAll(dialect.semiSync(this.semiSyncSettings()));
    await link.runAll(dialect.unfence);
    const durationMs = Date.now() - started;
    this.knownPrimary = chosen.name;
    this.failures = 0;
    this.cooldownUntil = Date.now() + this.config.cooldownMs;
    this.log('info', { event: 'failover.promoted', primary: chosen.name, from: failed, durationMs });
    const replicas = await this.repointAll(chosen.name, failed);
    this.finishTakeover({
      kind: 'failover',
      from: failed,
      to: chosen.name,
      startedAt: new Date(started).toISOString(),
      durationMs,
      ranking: choice.ranking,
      replicas,
    });
  }

  /**
   * Stops fetching from the dead primary and applies what was received, bounded; false when it did not
   * finish (the next round goes on from there).
   */
  private async applyRelayLog(link: NodeLink, chosen: ReachableNode): Promise<boolean> {
    const dialect = this.dialect!;
    if (!receiverStopped(chosen) && !(await this.stopReceiving(link, chosen))) return false;
    await link.runAll(dialect.startApplying);
    const applied = await link.read(
      dialect.waitApplied(chosen.history, this.config.applyTimeoutMs),
      this.config.applyTimeoutMs + this.config.timeoutMs,
    );
    if (applied === 'applied') return true;
    this.metrics.inc('rwsplit_failover_failures_total', { reason: 'apply_timeout' });
    this.log('error', {
      event: 'failover.apply-timeout',
      node: chosen.name,
      applyTimeoutMs: this.config.applyTimeoutMs,
      action: 'retried next round',
    });
    return false;
  }

  /**
   * Stops the candidate's IO thread; false while the stop is still under way. An IO thread in a connection
   * attempt to a silent primary (packets dropped, no reset) stops only when that attempt times out, within
   * the replica's `slave_net_timeout`: the statement then outlasts `timeoutMs` and completes on the server.
   * It is not sent again meanwhile, and the rounds go on (leadership is renewed) until it is done: the
   * replica, stopped by the manager after it lost the primary, still testifies.
   */
  private async stopReceiving(link: NodeLink, chosen: ReachableNode): Promise<boolean> {
    const state = chosen.replica!;
    const now = Date.now();
    const waiting = {
      event: 'failover.stopping',
      node: chosen.name,
      action:
        'waits for its IO thread to stop: it ends its connection attempt to the primary first (within its slave_net_timeout)',
    };
    if (this.stoppedReceivers.pending(chosen.name, now, this.config.applyTimeoutMs)) {
      this.say(`stopping:${chosen.name}`, 'pending', 'warn', waiting);
      return false;
    }
    const source = { host: state.sourceHost, port: state.sourcePort };
    this.stoppedReceivers.asked(chosen.name, source, lostConnection(chosen), now);
    try {
      await link.runAll(this.dialect!.stopReceiving);
      return true;
    } catch (error) {
      if (!answerTimedOut(error)) throw error;
      this.say(`stopping:${chosen.name}`, String(now), 'warn', {
        ...waiting,
        timeoutMs: this.config.timeoutMs,
      });
      return false;
    }
  }

  /** Points every reachable node but `primary` and `skip` at `primary`, or says why one cannot follow. */
  private async repointAll(primary: string, skip: string | undefined): Promise<FailoverReport['replicas']> {
    const dialect = this.dialect!;
    const promoted = await this.links.get(primary)!.read(dialect.facts);
    const outcomes: { name: string; outcome: string }[] = [];
    await Promise.all(
      this.observations.map(async (observation) => {
        if (observation.name === primary || observation.name === skip) return;
        if (!observation.reachable) {
          outcomes.push({ name: observation.name, outcome: 'unreachable: follows when it is back (rejoin)' });
          return;
        }
        const gtids = dialect.missing(observation.history.received, promoted.executed);
        if (gtids !== '') {
          outcomes.push({ name: observation.name, outcome: `diverged: has ${gtids} that ${primary} lacks` });
          return;
        }
        try {
          await this.follow(observation.name, primary, observation.replica === undefined);
          outcomes.push({ name: observation.name, outcome: 'following' });
        } catch (error) {
          outcomes.push({ name: observation.name, outcome: `failed: ${(error as Error).message}` });
        }
      }),
    );
    return outcomes;
  }

  /** Points `name` at `primary` and waits (bounded) until it replicates; rejects with the reason. */
  private async follow(name: string, primary: string, formerPrimary: boolean): Promise<void> {
    const dialect = this.dialect!;
    const link = this.links.get(name)!;
    const source = this.config.nodes.find((n) => n.name === primary)!;
    await link.runAll(dialect.fence);
    if (this.config.semiSync.enabled) await link.runAll(dialect.semiSync(this.semiSyncSettings()));
    await link.runAll(
      dialect.follow(
        {
          host: source.host,
          port: source.port,
          user: this.config.replication.user,
          password: this.config.replication.password,
          ...(this.config.tls === undefined ? {} : { caFile: this.config.tls.caFile }),
        },
        { heartbeatMs: this.config.heartbeatMs, formerPrimary },
      ),
    );
    const waitMs = Math.max(3_000, 4 * this.config.timeoutMs);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const state = await link.read(dialect.router.replicaStatus);
      if (state?.ioRunning && state.sqlRunning) return;
      if (
        state !== undefined &&
        (state.ioErrno !== 0 || state.sqlErrno !== 0) &&
        state.ioState !== 'Connecting'
      ) {
        throw new FailoverError(
          'FAILOVER_STEP_FAILED',
          `${name} does not follow ${primary}: ${state.lastError}`,
        );
      }
      if (Date.now() > deadline) {
        throw new FailoverError(
          'FAILOVER_STEP_FAILED',
          `${name} did not start replicating from ${primary} within ${waitMs} ms: ${state?.lastError || state?.ioState || 'no status'}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private finishTakeover(report: FailoverReport): void {
    this.failoverCount++;
    this.lastFailover = report;
    this.metrics.inc('rwsplit_failover_failovers_total', { kind: report.kind });
    this.metrics.set('rwsplit_failover_last_duration_seconds', report.durationMs / 1_000, {
      kind: report.kind,
    });
    if (report.writePauseMs !== undefined) {
      this.metrics.set('rwsplit_failover_last_write_pause_seconds', report.writePauseMs / 1_000);
    }
    this.log('info', { event: `${report.kind}.done`, ...report });
  }

  /**
   * Planned change of primary to `to`: the old primary stops taking writes, `to` catches up, is promoted,
   * and the old primary and the other replicas follow it. Nothing acknowledged is lost; writes pause
   * between the fence and the promotion.
   */
  async switchover(to: string): Promise<FailoverReport> {
    const standing = this.leadership.current;
    if (!standing.leader) {
      throw new FailoverError(
        'FAILOVER_NO_QUORUM',
        `${this.config.id} is not the leader; ask the leader (rwsplit-failover status)`,
      );
    }
    const from = this.knownPrimary;
    const current = this.observations.find((o) => o.name === from);
    if (from === undefined || !current?.reachable || current.readOnly) {
      throw new FailoverError('FAILOVER_REFUSED', 'no healthy primary to switch over from');
    }
    if (to === from) throw new FailoverError('FAILOVER_REFUSED', `${to} is already the primary`);
    const target = this.observations.find((o) => o.name === to);
    if (target === undefined) throw new FailoverError('FAILOVER_REFUSED', `unknown node ${to}`);
    if (!target.reachable)
      throw new FailoverError('FAILOVER_REFUSED', `${to} is unreachable: ${target.error}`);
    const fromConfig = this.config.nodes.find((n) => n.name === from)!;
    if (
      target.replica === undefined ||
      target.replica.sourceHost !== fromConfig.host ||
      target.replica.sourcePort !== fromConfig.port
    ) {
      throw new FailoverError('FAILOVER_REFUSED', `${to} does not replicate from ${from}`);
    }
    return this.exclusive('switchover', async () => {
      const dialect = this.dialect!;
      const started = Date.now();
      const old = this.links.get(from)!;
      const next = this.links.get(to)!;
      if (!(await this.leadership.confirm()))
        throw new FailoverError('FAILOVER_NO_QUORUM', 'lost the quorum');
      // Close the gap while writes still flow, so that once they stop only a few milliseconds' worth is left
      // to apply: under load a replica trails by its applier's lag, which would all become write pause.
      await this.preCatchUp(old, next);
      const preparedAt = Date.now();
      await old.runAll(dialect.fence);
      const fencedAt = Date.now();
      const primaryFacts = await old.read(dialect.facts);
      const factsAt = Date.now();
      const caughtUp = await next.read(
        dialect.waitApplied(dialect.history(primaryFacts.executed, ''), this.config.applyTimeoutMs),
        this.config.applyTimeoutMs + this.config.timeoutMs,
      );
      if (caughtUp !== 'applied') {
        await old.runAll(dialect.unfence);
        throw new FailoverError(
          'FAILOVER_STEP_FAILED',
          `${to} did not catch up within ${this.config.applyTimeoutMs} ms; ${from} takes writes again`,
        );
      }
      const caughtUpAt = Date.now();
      await next.runAll(dialect.forgetSource);
      const detachedAt = Date.now();
      await next.runAll(dialect.semiSync(this.semiSyncSettings()));
      await next.runAll(dialect.unfence);
      const writePauseMs = Date.now() - fencedAt;
      const steps = {
        preCatchUpMs: preparedAt - started,
        fenceMs: fencedAt - preparedAt,
        readPositionMs: factsAt - fencedAt,
        catchUpMs: caughtUpAt - factsAt,
        detachMs: detachedAt - caughtUpAt,
        openMs: Date.now() - detachedAt,
      };
      this.knownPrimary = to;
      this.log('info', { event: 'switchover.promoted', primary: to, from, writePauseMs, ...steps });
      const replicas = await this.repointAll(to, undefined);
      const report: FailoverReport = {
        kind: 'switchover',
        from,
        to,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        writePauseMs,
        steps,
        replicas,
      };
      this.finishTakeover(report);
      return report;
    });
  }

  /**
   * Waits (bounded by half of `applyTimeoutMs`) until `replica` has applied what `primary` had a moment
   * ago, again while that took long, at most a few times: the replica is then about one short wait behind.
   */
  private async preCatchUp(primary: NodeLink, replica: NodeLink): Promise<void> {
    const dialect = this.dialect!;
    // Half the budget at most: the wait after the fence has a whole one of its own.
    const deadline = Date.now() + this.config.applyTimeoutMs / 2;
    for (let round = 0; round < 5; round++) {
      const facts = await primary.read(dialect.facts);
      const began = Date.now();
      const left = deadline - began;
      if (left <= 0) return;
      const outcome = await replica.read(
        dialect.waitApplied(dialect.history(facts.executed, ''), left),
        left + this.config.timeoutMs,
      );
      if (outcome === 'timeout' || Date.now() - began < 20) return;
    }
  }

  /**
   * Brings `name` back as a replica of the primary: as it is when its transactions are all in the
   * primary's, or with `rebuild` from a fresh copy of the primary (its own transactions are discarded).
   */
  /**
   * Fences `name` and makes it follow the primary again; with `rebuild`, first replaces its data with a
   * copy of the primary's. A rebuild writes every schema, the system tables included, which the manager's
   * own account may not (and should not) do: `as` is the account to do it with, given for this one call
   * (an operator's admin account); without it the manager's own account is used.
   */
  async rejoin(
    name: string,
    rebuild: boolean,
    as?: { readonly user: string; readonly password: string },
  ): Promise<{ node: string; outcome: string }> {
    if (!this.leadership.current.leader) {
      throw new FailoverError(
        'FAILOVER_NO_QUORUM',
        `${this.config.id} is not the leader; ask the leader (rwsplit-failover status)`,
      );
    }
    const primary = this.knownPrimary;
    if (primary === undefined || this.view?.kind !== 'primary')
      throw new FailoverError('FAILOVER_REFUSED', 'no healthy primary to rejoin to');
    if (name === primary) throw new FailoverError('FAILOVER_REFUSED', `${name} is the primary`);
    const node = this.config.nodes.find((n) => n.name === name);
    if (node === undefined) throw new FailoverError('FAILOVER_REFUSED', `unknown node ${name}`);
    return this.exclusive(rebuild ? 'rebuild' : 'rejoin', async () => {
      const dialect = this.dialect!;
      const link = this.links.get(name)!;
      this.rejoining.add(name);
      try {
        await link.runAll(dialect.fence);
        if (rebuild) {
          const source = this.config.nodes.find((n) => n.name === primary)!;
          const account = as ?? { user: this.config.user, password: this.config.password };
          // Its own connection for the rebuild's statements, as that account; closed afterwards.
          const rebuilder = new NodeLink(node, {
            ...account,
            timeoutMs: this.config.timeoutMs,
            caPem: this.config.tls?.caPem,
          });
          const timing = await rebuildNode(dialect, rebuilder, {
            source,
            target: node,
            ...account,
            caFile: this.config.tls?.caFile,
            dumpCommand: this.config.rebuild.dumpCommand,
            clientCommand: this.config.rebuild.clientCommand,
          }).finally(() => rebuilder.drop());
          this.log('info', { event: 'node.rebuilt', node: name, from: primary, as: account.user, ...timing });
          await this.follow(name, primary, false);
        } else {
          const [mine, theirs] = await Promise.all([
            link.read(dialect.facts),
            this.links.get(primary)!.read(dialect.facts),
          ]);
          const gtids = dialect.missing(mine.executed, theirs.executed);
          if (gtids !== '') {
            throw new FailoverError(
              'FAILOVER_REFUSED',
              `${name} has transactions ${primary} lacks (${gtids}); rebuild it: rwsplit-failover rejoin --rebuild ${name}`,
            );
          }
          const state = await link.read(dialect.router.replicaStatus);
          await this.follow(name, primary, state === undefined);
        }
        this.said.delete(`diverged:${name}`);
        this.log('info', { event: 'node.rejoined', node: name, primary, rebuilt: rebuild });
        return { node: name, outcome: 'following' };
      } finally {
        this.rejoining.delete(name);
      }
    });
  }

  /** Runs one change at a time (the rounds skip acting meanwhile). */
  private async exclusive<T>(what: string, action: () => Promise<T>): Promise<T> {
    if (this.busy !== undefined)
      throw new FailoverError('FAILOVER_REFUSED', `busy: ${this.busy} in progress`);
    this.busy = what;
    try {
      return await action();
    } catch (error) {
      if (what === 'failover') this.metrics.inc('rwsplit_failover_failures_total', { reason: 'step_failed' });
      this.log('error', {
        event: `${what}.failed`,
        error: (error as Error).message,
        code: (error as FailoverError).code,
      });
      throw error;
    } finally {
      this.busy = undefined;
    }
  }

  /** A change to one node, logged with its outcome; a failure is logged and does not stop the round. */
  private async step(
    node: string,
    what: string,
    action: () => Promise<void>,
    detail: Record<string, unknown>,
  ): Promise<void> {
    try {
      await action();
      this.log('info', { event: `node.${what}`, node, ...detail });
    } catch (error) {
      this.log('error', { event: `node.${what}.failed`, node, error: (error as Error).message, ...detail });
    }
  }

  /** Logs `entry` when `value` changed for `key` since the last time (a lasting state is logged once). */
  private say(
    key: string,
    value: string,
    level: 'info' | 'warn' | 'error',
    entry: { event: string; [field: string]: unknown },
  ): void {
    if (this.said.get(key) === value) return;
    this.said.set(key, value);
    this.log(level, entry);
  }

  status(): ManagerStatus {
    const standing = this.leadership.current;
    return {
      id: this.config.id,
      leader: standing.leader,
      standing,
      primary: this.knownPrimary,
      view: this.view,
      primaryFailures: this.failures,
      verdict: this.verdict,
      cooldownUntil: this.cooldownUntil,
      failovers: this.failoverCount,
      lastFailover: this.lastFailover,
      nodes: this.config.nodes.map((node) => this.nodeReport(node.name)),
      busy: this.busy,
    };
  }

  private nodeReport(name: string): NodeReport {
    const observation = this.observations.find((o) => o.name === name);
    const plan = this.lastUpkeep;
    if (observation === undefined) {
      return {
        name,
        state: 'unknown',
        detail: 'not probed yet',
        readOnly: undefined,
        source: undefined,
        executed: undefined,
        semiSyncActive: undefined,
      };
    }
    if (!observation.reachable) {
      return {
        name,
        state: 'unreachable',
        detail: observation.error,
        readOnly: undefined,
        source: undefined,
        executed: undefined,
        semiSyncActive: undefined,
      };
    }
    const base = {
      name,
      readOnly: observation.readOnly,
      source:
        observation.replica === undefined
          ? undefined
          : `${observation.replica.sourceHost}:${observation.replica.sourcePort}`,
      executed: observation.facts.executed,
      semiSyncActive: observation.facts.semiSync.active,
    };
    if (name === this.knownPrimary && !observation.readOnly) {
      const semi = observation.facts.semiSync;
      return {
        ...base,
        state: 'primary',
        detail: semi.active
          ? `semi-sync on, ${semi.clients} replica(s) acknowledging`
          : 'semi-sync not active',
      };
    }
    if (this.rejoining.has(name))
      return { ...base, state: 'rejoining', detail: 'being pointed at the primary' };
    const diverged = plan?.diverged.find((d) => d.name === name);
    if (diverged) return { ...base, state: 'diverged', detail: `has ${diverged.gtids} the primary lacks` };
    const broken = plan?.broken.find((d) => d.name === name);
    if (broken) return { ...base, state: 'broken', detail: broken.error };
    if (plan?.stopped.includes(name))
      return { ...base, state: 'stopped', detail: 'replication stopped by hand' };
    if (!observation.readOnly)
      return { ...base, state: 'fenced', detail: 'writable, not the primary: being fenced' };
    if (observation.replica === undefined)
      return { ...base, state: 'fenced', detail: 'read-only, replicates from nobody' };
    const state = observation.replica;
    return {
      ...base,
      state: 'replica',
      detail: `io ${state.ioState}, sql ${state.sqlRunning ? 'running' : 'stopped'}${state.lastError ? `: ${state.lastError}` : ''}`,
    };
  }

  private defineMetrics(): void {
    const m = this.metrics;
    m.define(
      'rwsplit_failover_failovers_total',
      'counter',
      'Completed changes of primary, by kind (failover, switchover).',
    );
    // Exported at 0 from the start: `increase()` over a series that first appears at 1 is 0, so a rule
    // on the first failover of a manager's life would never fire.
    for (const kind of ['failover', 'switchover'] as const)
      m.inc('rwsplit_failover_failovers_total', { kind }, 0);
    m.define('rwsplit_failover_failures_total', 'counter', 'Failovers that could not complete, by reason.');
    m.define(
      'rwsplit_failover_last_duration_seconds',
      'gauge',
      'Duration of the last change of primary, decision to new primary writable.',
    );
    m.define(
      'rwsplit_failover_last_write_pause_seconds',
      'gauge',
      'Writes refused during the last switchover.',
    );
    m.define('rwsplit_failover_leader', 'gauge', '1 while this manager leads (holds a quorum), else 0.');
    m.define(
      'rwsplit_failover_votes',
      'gauge',
      'Voters behind this manager (itself, node locks, peer votes).',
    );
    m.define('rwsplit_failover_quorum', 'gauge', 'Voters needed to lead.');
    m.define('rwsplit_failover_primary', 'gauge', '1 for the node this manager sees as primary.');
    m.define(
      'rwsplit_failover_primary_failed_probes',
      'gauge',
      'Consecutive rounds the primary could not be reached.',
    );
    m.define(
      'rwsplit_failover_node_state',
      'gauge',
      'Each node state as this manager sees it (1 for the current state).',
    );
    m.define(
      'rwsplit_failover_semisync_active',
      'gauge',
      '1 while the primary waits for a replica acknowledgement on commit; 0 after a fall-back to asynchronous.',
    );
    m.define(
      'rwsplit_failover_semisync_no_ack_commits',
      'gauge',
      "The primary's commits acknowledged by no replica (fall-back), since it started.",
    );
    m.define(
      'rwsplit_failover_split_brain',
      'gauge',
      '1 while more than one node is writable and none is known as the primary.',
    );
  }

  private updateMetrics(standing: Standing): void {
    const m = this.metrics;
    m.set('rwsplit_failover_leader', standing.leader ? 1 : 0);
    m.set('rwsplit_failover_votes', standing.votes);
    m.set('rwsplit_failover_quorum', standing.quorum);
    m.set('rwsplit_failover_primary_failed_probes', this.failures);
    m.set('rwsplit_failover_split_brain', this.view?.kind === 'split-brain' ? 1 : 0);
    m.reset('rwsplit_failover_primary');
    for (const node of this.config.nodes)
      m.set('rwsplit_failover_primary', node.name === this.knownPrimary ? 1 : 0, { node: node.name });
    m.reset('rwsplit_failover_node_state');
    for (const node of this.config.nodes) {
      const { state } = this.nodeReport(node.name);
      for (const candidate of NODE_STATES)
        m.set('rwsplit_failover_node_state', candidate === state ? 1 : 0, {
          node: node.name,
          state: candidate,
        });
    }
    const primary = this.observations.find((o) => o.name === this.knownPrimary);
    if (primary?.reachable) {
      m.set('rwsplit_failover_semisync_active', primary.facts.semiSync.active ? 1 : 0);
      m.set('rwsplit_failover_semisync_no_ack_commits', primary.facts.semiSync.noTx);
    }
  }
}
