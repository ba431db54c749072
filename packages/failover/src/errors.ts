/** Stable codes that scripts, tests and alerts can match on. */
export type FailoverErrorCode =
  /** The configuration is unusable; `option` names the setting. */
  | 'FAILOVER_INVALID_OPTION'
  /** This manager does not hold a quorum of the voters, so it changes nothing. */
  | 'FAILOVER_NO_QUORUM'
  /** No replica may be promoted (none reachable, all marked never-promote, all with errant GTIDs). */
  | 'FAILOVER_NO_CANDIDATE'
  /** More than one node is writable and it is not known which is the primary: nothing is done. */
  | 'FAILOVER_SPLIT_BRAIN'
  /** A node could not be reached or refused the manager's account. */
  | 'FAILOVER_NODE_UNREACHABLE'
  /** A step on a node failed (a statement errored, a replica did not start following). */
  | 'FAILOVER_STEP_FAILED'
  /** A request this manager cannot serve now (not the leader, in cool-down, unknown node ...). */
  | 'FAILOVER_REFUSED'
  /** Not available for this server flavour. */
  | 'FAILOVER_UNSUPPORTED';

/** Everything `@rwsplit/failover` throws: a stable `code`, what went wrong and what to do, the cause kept. */
export class FailoverError extends Error {
  override readonly name = 'FailoverError';
  constructor(
    readonly code: FailoverErrorCode,
    message: string,
    options?: ErrorOptions & { readonly option?: string },
  ) {
    super(message, options);
    if (options?.option !== undefined) this.option = options.option;
  }
  /** For `FAILOVER_INVALID_OPTION`: the setting at fault, as a path (`nodes[1].port`). */
  readonly option?: string;
}

/** A bad setting: names it, says what was expected. */
export function invalidOption(option: string, problem: string): FailoverError {
  return new FailoverError('FAILOVER_INVALID_OPTION', `${option}: ${problem}`, { option });
}
