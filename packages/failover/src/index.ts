export { type ApiAnswer, type ApiCall, callApi } from './api-client.js';
export { FAILOVER_CLI } from './cli-path.js';
export {
  type ApiTlsConfig,
  DEFAULTS,
  type FailoverConfig,
  type ManagerConfig,
  type NodeConfig,
  quorumOf,
  type ResolvedConfig,
  resolveConfig,
  type SemiSyncConfig,
  type TlsConfig,
} from './config.js';
export type { FailoverDialect, History, NodeFacts, SemiSyncState } from './dialect/failover-dialect.js';
export { MariaDbFailoverDialect } from './dialect/mariadb-failover.js';
export { MySqlFailoverDialect } from './dialect/mysql-failover.js';
export { FailoverError, type FailoverErrorCode } from './errors.js';
export { startHttpApi } from './http-api.js';
export { type AskVote, LEADER_LOCK, Leadership, type Standing } from './leadership.js';
export { jsonLogger, type LogEvent, type Logger } from './log.js';
export {
  FailoverManager,
  type FailoverReport,
  type ManagerOptions,
  type ManagerStatus,
  NODE_STATES,
  type NodeReport,
  type NodeState,
} from './manager.js';
