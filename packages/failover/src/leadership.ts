import { quorumOf, type ResolvedConfig } from './config.js';
import type { FailoverDialect } from './dialect/failover-dialect.js';
import { NodeLink } from './node-link.js';

/** The lock each database node lends to one manager at a time: the node's vote. */
export const LEADER_LOCK = 'rwsplit_failover_leader';

/** What a manager asks a peer for, and what the peer answers. */
export interface VoteRequest {
  readonly candidate: string;
}

export interface VoteAnswer {
  readonly granted: boolean;
  /** The manager this one supports now (itself when it is a candidate or the leader). */
  readonly supports: string;
}

/** How this manager stands after a round. */
export interface Standing {
  readonly leader: boolean;
  /** Voters behind it: itself, the nodes whose lock it holds, the peers that granted it their vote. */
  readonly votes: number;
  readonly quorum: number;
  readonly locks: readonly string[];
  readonly peerVotes: readonly string[];
  /** The manager it lends its vote to, when it is not a candidate. */
  readonly following: string | undefined;
}

/** Asks a peer manager for its vote (HTTP in production, a function in tests). */
export type AskVote = (peer: { id: string; url: string }, request: VoteRequest) => Promise<VoteAnswer>;

/**
 * Leadership by quorum over a fixed set of voters: every database node (its vote is a server lock,
 * `GET_LOCK`, which one connection holds at a time) and every manager (its vote is a lease it grants to
 * one manager, itself included). A manager leads while more than half of the voters are behind it, so
 * two never lead at once: no lock and no manager's vote counts for two managers. Counting the managers
 * is what lets the seed topology (a primary and one replica) decide: with the primary dead, the replica's
 * lock and both managers are 3 of 4 voters, while on either side of a partition between them there are
 * at most 2.
 *
 * A lock is held on a connection of its own per node, with the session's `wait_timeout` at the lease, so
 * a manager that hangs loses it within the lease; one that dies loses it at once. A peer's vote is a
 * lease too, counted by the candidate from when it asked (so it ends on the candidate's side first).
 * Conflicts go to the lower manager id: a candidate asked by a lower id grants, lets go of its locks and
 * follows, so two managers starting together settle within a round or two.
 */
export class Leadership {
  private readonly lockLinks: Map<string, NodeLink>;
  private readonly held = new Set<string>();
  /** Votes peers granted this manager, until when (ms, this manager's clock). */
  private readonly peerGrants = new Map<string, number>();
  /** The vote this manager lent to a peer, and until when. */
  private lent: { candidate: string; until: number } | undefined;
  private standing: Standing;
  readonly quorum: number;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly dialect: () => FailoverDialect | undefined,
    private readonly askVote: AskVote,
    private readonly now: () => number = Date.now,
  ) {
    this.quorum = quorumOf(config);
    this.lockLinks = new Map(
      config.nodes.map((node) => [
        node.name,
        new NodeLink(node, {
          user: config.user,
          password: config.password,
          timeoutMs: config.timeoutMs,
          caPem: config.tls?.caPem,
        }),
      ]),
    );
    this.standing = this.stand();
  }

  get current(): Standing {
    return this.standing;
  }

  /**
   * A peer asks for this manager's vote. Granted unless it is lent to another manager, or this manager is
   * leading, or it is a candidate itself with a lower id than the asker.
   */
  vote(request: VoteRequest): VoteAnswer {
    const now = this.now();
    if (this.lent !== undefined && this.lent.until > now && this.lent.candidate !== request.candidate) {
      return { granted: false, supports: this.lent.candidate };
    }
    if (this.standing.leader) return { granted: false, supports: this.config.id };
    // Both candidates: the lower id goes first.
    if (this.held.size > 0 && this.config.id < request.candidate)
      return { granted: false, supports: this.config.id };
    this.lent = { candidate: request.candidate, until: now + this.config.leaseMs };
    this.releaseAll();
    this.standing = this.stand();
    return { granted: true, supports: request.candidate };
  }

  /**
   * One round: renews or takes the node locks (unless the vote is lent out) and asks the peers for
   * theirs. Resolves to the standing after it; never rejects.
   */
  async renew(reachable: ReadonlySet<string>): Promise<Standing> {
    const now = this.now();
    if (this.lent !== undefined && this.lent.until > now) {
      this.releaseAll();
      this.standing = this.stand();
      return this.standing;
    }
    this.lent = undefined;
    const dialect = this.dialect();
    if (dialect !== undefined) {
      await Promise.all(
        [...this.lockLinks].map(([name, link]) => this.hold(name, link, dialect, reachable.has(name))),
      );
    }
    const askedAt = this.now();
    await Promise.all(
      this.config.managers
        .filter((manager) => manager.id !== this.config.id)
        .map(async (peer) => {
          try {
            const answer = await this.askVote(peer, { candidate: this.config.id });
            if (answer.granted) this.peerGrants.set(peer.id, askedAt + this.config.leaseMs);
            else this.peerGrants.delete(peer.id);
          } catch {
            // Unreachable: its earlier grant runs out on its own.
          }
        }),
    );
    this.standing = this.stand();
    // Without a quorum, hold nothing: the locks would only keep another manager from one.
    if (!this.standing.leader && this.standing.peerVotes.length === 0 && this.yieldsTo()) this.releaseAll();
    this.standing = this.stand();
    return this.standing;
  }

  /** Re-checks the locks just before a step that changes the cluster: still leader? */
  async confirm(): Promise<boolean> {
    const dialect = this.dialect();
    if (dialect === undefined) return false;
    await Promise.all(
      [...this.held].map(async (name) => {
        try {
          await this.lockLinks.get(name)!.run({ sql: 'SELECT 1', values: [] });
        } catch {
          this.held.delete(name);
        }
      }),
    );
    this.standing = this.stand();
    return this.standing.leader;
  }

  /** Lets every lock go (shutdown): the other manager can lead at once. */
  close(): void {
    this.releaseAll();
  }

  private async hold(
    name: string,
    link: NodeLink,
    dialect: FailoverDialect,
    reachableNow: boolean,
  ): Promise<void> {
    try {
      if (this.held.has(name)) {
        await link.run({ sql: 'SELECT 1', values: [] });
        return;
      }
      if (!reachableNow) return;
      await link.run(dialect.sessionLease(this.config.leaseMs / 1_000));
      if (await link.read(dialect.takeLock(LEADER_LOCK))) this.held.add(name);
    } catch {
      this.held.delete(name);
      link.drop();
    }
  }

  /** Whether a lower-id manager exists that this one should make way for. */
  private yieldsTo(): boolean {
    return this.config.managers.some((manager) => manager.id < this.config.id);
  }

  private releaseAll(): void {
    for (const name of this.held) this.lockLinks.get(name)?.drop();
    this.held.clear();
  }

  private stand(): Standing {
    const now = this.now();
    const following = this.lent !== undefined && this.lent.until > now ? this.lent.candidate : undefined;
    const peerVotes = [...this.peerGrants].filter(([, until]) => until > now).map(([id]) => id);
    const self = following === undefined ? 1 : 0;
    const votes = self + this.held.size + (following === undefined ? peerVotes.length : 0);
    return {
      leader: following === undefined && votes >= this.quorum,
      votes,
      quorum: this.quorum,
      locks: [...this.held].sort(),
      peerVotes: following === undefined ? peerVotes : [],
      following,
    };
  }
}
