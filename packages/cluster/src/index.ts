export type { ProcessControl, Server } from './app-server.js';
export {
  type Cluster,
  type ClusterCredentials,
  type ClusterEndpoints,
  ECHO_APP,
  type LbHostHandle,
  type LoadBalancerEndpoints,
  type NetworkFaults,
  startCluster,
} from './cluster.js';
export { type CliDefaults, runCli } from './command-line.js';
export {
  type AcquireEngineOptions,
  acquireDockerEngine,
  type DockerEngine,
  stopUnusedPrivateEngine,
} from './docker/engine.js';
export {
  type EnsureImagesOptions,
  ensureImages,
  IMAGE_NAMES,
  type ImageBuild,
  type ImageName,
} from './docker/images.js';
export { ClusterError, type ClusterErrorCode } from './errors.js';
export type { FailoverManagerHandle } from './failover-managers.js';
export type { HostModel } from './host-model.js';
export { type ExitStatus, liveProcesses } from './managed-process.js';
export type { DbNode, DbRole, ReplicationStatus } from './mariadb-node.js';
export type {
  AppSpec,
  Balance,
  ClusterCredentialOptions,
  ClusterOptions,
  ClusterPorts,
  Credentials,
  FailoverOptions,
  HostKind,
  LbMode,
  RuntimeKind,
  SemiSyncOptions,
} from './options.js';
export {
  type Inventory,
  InventoryError,
  resolveInventory,
} from './render/inventory.js';
export { runRenderCommand } from './render/render-command.js';
export { renderCompose } from './render/render-compose.js';
export { type Rendering, renderHosts } from './render/render-hosts.js';
export { renderTemplate } from './templates.js';
