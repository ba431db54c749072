import type { ConsistencyMode } from './consistency-config.js';
import { covers, type GtidPosition, isEmpty, merge } from './position.js';
import type { TokenCodec } from './token.js';

/**
 * What one session must see: the GTID position of everything it (or the token it resumed) wrote.
 *
 * - No requirement: reads go wherever the router sends them.
 * - A requirement: a replica may serve a read only once it has applied it.
 * - `untrusted`: the session was handed a token that could not be read (corrupt, forged, other
 *   secret, other flavor). It might have required anything, so its reads go to the primary. Never
 *   an error: the worst case is a read that did not need the primary.
 */
export class ReadYourWrites {
  private required: GtidPosition | undefined;
  private untrusted = false;

  constructor(
    readonly mode: ConsistencyMode,
    private readonly codec: TokenCodec,
    token: string | undefined,
    /** Told after every change of `token()`. */
    private readonly onChange?: () => void,
  ) {
    if (token === undefined || token === '') return;
    const position = codec.decode(token);
    if (position === undefined) this.untrusted = true;
    else if (!isEmpty(position)) this.required = position;
  }

  /** Where this session's reads must go before any replica is even considered. */
  get readsNeedPrimary(): boolean {
    return this.mode === 'strong' || (this.mode === 'session' && this.untrusted);
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

  /** A write committed but its position could not be learned: only the primary is sure to have it. */
  lostTrack(): void {
    this.untrusted = true;
    this.onChange?.();
  }

  /**
   * The token to hand to the next request (cookie / header), or undefined when the session has nothing
   * to require. An untrusted session that wrote hands on only what it knows it wrote.
   */
  token(): string | undefined {
    return this.required === undefined ? undefined : this.codec.encode(this.required);
  }
}
