/** Stable codes that scripts and tests can match on. */
export type ClusterErrorCode =
  | 'CLUSTER_INVALID_OPTION'
  | 'CLUSTER_MISSING_BINARY'
  | 'CLUSTER_NO_FREE_BLOCK'
  | 'CLUSTER_PROCESS_FAILED'
  | 'CLUSTER_NOT_READY'
  | 'CLUSTER_COMMAND_FAILED'
  | 'CLUSTER_STOPPED'
  /** The docker runtime found no engine and could not install or start its own. */
  | 'CLUSTER_DOCKER_UNAVAILABLE'
  /** An image of the docker runtime could not be made (debootstrap, `docker import`, `docker build`). */
  | 'CLUSTER_IMAGE_BUILD_FAILED';

export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  constructor(
    message: string,
    readonly code: ClusterErrorCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
