import type { NodeConfig } from './config.js';
import type { FailoverDialect } from './dialect/failover-dialect.js';
import {
  follows,
  lostConnection,
  lostSource,
  type NodeObservation,
  type ReachableNode,
  reachable,
  receiverStopped,
} from './observation.js';

/**
 * The manager's rules, pure: from one round's observations (and what it remembers) to what should be
 * done. Every rule is tested without servers; the manager only carries the decisions out.
 */

/** Which node takes writes now, as far as the observations tell. */
export type PrimaryView =
  | { readonly kind: 'primary'; readonly node: string; readonly alsoWritable: readonly string[] }
  | { readonly kind: 'split-brain'; readonly writable: readonly string[] }
  | { readonly kind: 'none'; readonly lastKnown: string | undefined; readonly reason: string };

/**
 * One writable node is the primary. Several: the one known as primary stays it and the others are to
 * be fenced; with none known (start-up) nothing can be decided: split brain, nothing is done. None
 * writable: no primary now (it is down, or fenced by hand or by a switchover in progress).
 */
export function primaryView(
  observations: readonly NodeObservation[],
  knownPrimary: string | undefined,
): PrimaryView {
  const writable = observations.filter((o) => o.reachable && !o.readOnly).map((o) => o.name);
  if (writable.length === 1) return { kind: 'primary', node: writable[0]!, alsoWritable: [] };
  if (writable.length > 1) {
    if (knownPrimary !== undefined && writable.includes(knownPrimary)) {
      return {
        kind: 'primary',
        node: knownPrimary,
        alsoWritable: writable.filter((n) => n !== knownPrimary),
      };
    }
    return { kind: 'split-brain', writable };
  }
  const known = observations.find((o) => o.name === knownPrimary);
  const reason =
    known === undefined
      ? 'no node is writable'
      : known.reachable
        ? `${known.name} is read-only`
        : `${known.name} is unreachable: ${known.error}`;
  return { kind: 'none', lastKnown: knownPrimary, reason };
}

/** Whether the replicas confirm that the primary is gone, and which of them could tell. */
export interface ReplicaVerdict {
  readonly agree: boolean;
  /** Replicas whose IO thread lost the primary (or had, before a manager stopped it or cut it loose). */
  readonly lost: readonly string[];
  /** Replicas still connected to it: one lost path (the manager's) is no failover. */
  readonly stillConnected: readonly string[];
  /** Replicas that cannot tell: unreachable, or replication stopped by hand. */
  readonly cannotTell: readonly string[];
  readonly reason: string;
}

/**
 * The replicas' view of the primary at `host:port`: it is gone when every replica of it that can tell
 * has lost it, and at least one can tell. A replica stopped by hand (IO thread off without an error), or
 * refused by the primary (1236: it reached it), says nothing about whether the primary is up.
 */
export function replicaVerdict(
  observations: readonly NodeObservation[],
  primary: { readonly name: string; readonly host: string; readonly port: number },
  /**
   * For nodes that follow nobody now: whether they had lost this primary when last seen following it. A
   * failover cut short after the candidate forgot its source leaves it so, and it still testifies.
   */
  lostBefore: ReadonlySet<string> = new Set(),
  /**
   * Replicas of this primary whose IO thread the manager stopped itself (the first step of promoting one)
   * after they had lost the primary. Their IO thread off without an error is the manager's doing, not news
   * about the primary: they still testify. A stop that outlasts the step's bound (the IO thread finishes
   * its connection attempt to the silent primary first) completes on the server, and the next round, which
   * retries the failover, must not read it as a replica stopped by hand. Judged by their current status
   * again once their IO thread runs, connects or stops on an error.
   */
  stoppedAfterLoss: ReadonlySet<string> = new Set(),
): ReplicaVerdict {
  const lost: string[] = [];
  const stillConnected: string[] = [];
  const cannotTell: string[] = [];
  for (const observation of observations) {
    if (observation.name === primary.name) continue;
    const node = reachable(observation);
    if (node === undefined) {
      cannotTell.push(observation.name);
      continue;
    }
    if (node.replica === undefined && lostBefore.has(node.name)) {
      lost.push(node.name);
      continue;
    }
    if (!follows(node, primary.host, primary.port)) continue;
    if (!lostSource(node)) stillConnected.push(node.name);
    else if (lostConnection(node)) lost.push(node.name);
    else if (stoppedAfterLoss.has(node.name) && receiverStopped(node)) lost.push(node.name);
    else cannotTell.push(node.name);
  }
  const agree = lost.length > 0 && stillConnected.length === 0;
  const reason = agree
    ? `its replicas lost it too (${lost.join(', ')})`
    : stillConnected.length > 0
      ? `${stillConnected.join(', ')} still replicate from it`
      : `no replica can confirm (${cannotTell.join(', ') || 'none follows it'})`;
  return { agree, lost, stillConnected, cannotTell, reason };
}

/** One replica as a promotion candidate. */
export interface Candidate {
  readonly name: string;
  /** Why it may not be promoted; undefined when it may. */
  readonly excluded?: string;
}

export interface CandidateChoice {
  /** The most advanced eligible replica; undefined when there is none. */
  readonly chosen: ReachableNode | undefined;
  /** Every replica considered, best first, with the reason for each one left out. */
  readonly ranking: readonly Candidate[];
}

/**
 * The replica to promote after `failed` died: the most advanced by received, then applied GTIDs, among
 * the reachable replicas not marked never-promote and without errant transactions (transactions neither
 * another replica nor the failed primary when last seen has, apart from the failed primary's own, which
 * are only further along); ties go to the first in the configuration.
 */
export function chooseCandidate(
  dialect: FailoverDialect,
  nodes: readonly Required<NodeConfig>[],
  observations: readonly NodeObservation[],
  failed: {
    readonly name: string;
    readonly serverId: number;
    readonly serverUuid: string;
    /** Its history when last seen: what the replicas got from it is no errant transaction. */
    readonly lastHistory: ReachableNode['history'] | undefined;
  },
): CandidateChoice {
  const replicas = observations
    .filter((o) => o.name !== failed.name)
    .map((o) => reachable(o))
    .filter((o): o is ReachableNode => o !== undefined);
  const failedHistory = failed.lastHistory === undefined ? [] : [failed.lastHistory];
  const ranking: Candidate[] = [];
  const eligible: ReachableNode[] = [];
  for (const observation of observations) {
    if (observation.name === failed.name) continue;
    const node = reachable(observation);
    const config = nodes.find((n) => n.name === observation.name);
    if (node === undefined) {
      ranking.push({ name: observation.name, excluded: 'unreachable' });
      continue;
    }
    if (config?.neverPromote) {
      ranking.push({ name: node.name, excluded: 'never-promote' });
      continue;
    }
    const others = [...failedHistory, ...replicas.filter((r) => r !== node).map((r) => r.history)];
    const errant = dialect.errant(node.history, others, { id: failed.serverId, uuid: failed.serverUuid });
    if (errant !== '') {
      ranking.push({ name: node.name, excluded: `errant GTIDs ${errant}` });
      continue;
    }
    eligible.push(node);
  }
  const order = (name: string) => nodes.findIndex((n) => n.name === name);
  eligible.sort((a, b) => dialect.compare(b.history, a.history) || order(a.name) - order(b.name));
  return {
    chosen: eligible[0],
    ranking: [...eligible.map((node) => ({ name: node.name })), ...ranking],
  };
}

/** What the leader keeps in order while the primary is healthy. */
export interface Upkeep {
  /** Writable nodes that are not the primary: made read-only at once. */
  readonly fence: readonly string[];
  /** Nodes to point at the primary (an old primary back, a replica of a dead primary), contained in it. */
  readonly rejoin: readonly { readonly name: string; readonly formerPrimary: boolean }[];
  /** Nodes that hold transactions the primary never got: kept out until rebuilt. */
  readonly diverged: readonly { readonly name: string; readonly gtids: string }[];
  /** Replicas of the primary that stopped with an error (e.g. 1236): reported, left for the operator. */
  readonly broken: readonly { readonly name: string; readonly error: string }[];
  /** Replicas of the primary stopped by hand: reported, left alone. */
  readonly stopped: readonly string[];
  /**
   * Replicas of the primary whose IO thread the manager stopped for a failover that did not happen (the
   * primary came back first): they receive again.
   */
  readonly resume: readonly string[];
}

export function upkeep(
  dialect: FailoverDialect,
  nodes: readonly Required<NodeConfig>[],
  observations: readonly NodeObservation[],
  primaryName: string,
  /** Nodes whose IO thread the manager stopped itself, to promote one of them. */
  stoppedByManager: ReadonlySet<string> = new Set(),
): Upkeep {
  const primaryConfig = nodes.find((n) => n.name === primaryName)!;
  const primary = reachable(observations.find((o) => o.name === primaryName));
  const fence: string[] = [];
  const rejoin: { name: string; formerPrimary: boolean }[] = [];
  const diverged: { name: string; gtids: string }[] = [];
  const broken: { name: string; error: string }[] = [];
  const stopped: string[] = [];
  const resume: string[] = [];
  for (const observation of observations) {
    if (observation.name === primaryName) continue;
    const node = reachable(observation);
    if (node === undefined) continue;
    if (!node.readOnly) {
      fence.push(node.name);
      continue;
    }
    if (follows(node, primaryConfig.host, primaryConfig.port)) {
      const state = node.replica!;
      if (state.ioState === 'No' && state.ioErrno !== 0)
        broken.push({ name: node.name, error: state.lastError });
      else if (!state.sqlRunning && state.lastError !== '')
        broken.push({ name: node.name, error: state.lastError });
      else if (stoppedByManager.has(node.name) && receiverStopped(node) && state.sqlRunning)
        resume.push(node.name);
      else if (state.ioState === 'No' || !state.sqlRunning) stopped.push(node.name);
      continue;
    }
    if (primary === undefined) continue;
    const gtids = dialect.missing(node.history.executed, primary.history.executed);
    if (gtids !== '') diverged.push({ name: node.name, gtids });
    else rejoin.push({ name: node.name, formerPrimary: node.replica === undefined });
  }
  return { fence, rejoin, diverged, broken, stopped, resume };
}
