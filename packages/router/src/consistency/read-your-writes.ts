import type { ConsistencyMode } from './consistency-config.js';
import { covers, emptyPosition, type GtidPosition, isEmpty, merge } from './position.js';
import type { TokenCodec } from './token.js';

/**
 * What one session must see: the GTID position of everything it (or the token it resumed) wrote.
 *
 * - No requirement: reads go wherever the router sends them.
 * - A requirement: a replica may serve a read only once it has applied it.
 * - `untrusted`: the session was handed a token that could not be read (corrupt, forged, other
 *   secret, other flavor). It might have required anything, so its reads go to the primary. Never
 *   an error: the worst case is a read that did not need the primary.
 * - `lost`: the session (or the one whose token it resumed) wrote something whose position it could not
 *   learn. Its reads go to the primary, and so do those of every request that carries its token on: the
 *   token says so (an incomplete token), until it expires.
 */
export class ReadYourWrites {
  private required: GtidPosition | undefined;
  private untrusted = false;
  private lost = false;

  constructor(
    readonly mode: ConsistencyMode,
    private readonly codec: TokenCodec,
    token: string | undefined,
    /** Told after every change of `token()`. */
    private readonly onChange?: () => void,
  ) {
    if (token === undefined || token === '') return;
    const decoded = codec.inspect(token);
    if (decoded === undefined) this.untrusted = true;
    else {
      if (decoded.incomplete) this.lost = true;
      if (!isEmpty(decoded.position)) this.required = decoded.position;
    }
  }

  /** Where this session's reads must go before any replica is even considered. */
  get readsNeedPrimary(): boolean {
    return this.mode === 'strong' || (this.mode === 'session' && (this.untrusted || this.lost));
  }

  /** A write of the session (or of the one whose token it resumed) has no known position. */
  get lostAWrite(): boolean {
    return this.lost;
  }

  /** The position a replica must have applied for a session read; undefined when any replica will do. */
  get requirement(): GtidPosition | undefined {
    return this.mode === 'session' ? this.required : undefined;
  }

  /** Whether a replica at `applied` (the monitor's last probe) already satisfies the session. */
  coveredBy(applied: GtidPosition | undefined): boolean {
    const required = this.requirement;
    if (required === undefined) return true;
    return applied !== undefined && covers(applied, required);
  }

  /** A write of this session committed at `position`. */
  recordCommit(position: GtidPosition): void {
    this.required = this.required === undefined ? position : merge(this.required, position);
    this.onChange?.();
  }

  /**
   * A write committed but its position could not be learned: only the primary is sure to have it, for this
   * session and for the requests its token goes on to.
   */
  lostTrack(): void {
    this.lost = true;
    this.onChange?.();
  }

  /**
   * The token to hand to the next request (cookie / header), or undefined when the session has nothing
   * to require. A session that lost track of a write hands on an incomplete token (the next request reads
   * from the primary too); one that was handed an unreadable token and wrote hands on what it wrote.
   */
  token(): string | undefined {
    if (this.lost && this.mode === 'session') {
      return this.codec.encode(this.required ?? emptyPosition('mariadb'), { incomplete: true });
    }
    return this.required === undefined ? undefined : this.codec.encode(this.required);
  }
}
