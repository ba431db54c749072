export type { Classification, RouteTarget } from './classify/classification.js';
export {
  CLASSIFY_REASONS,
  type ClassifyReason,
  classify,
  TRANSACTION_EFFECTS,
  type TransactionEffect,
} from './classify/index.js';
export type { ConsistencyConfig, ConsistencyMode } from './consistency/consistency-config.js';
export { type Dialect, detectDialect } from './dialect/dialect.js';
export type {
  Driver,
  DriverConnection,
  DriverConnectOptions,
  PeerVerifier,
  TlsPeer,
} from './driver.js';
export type { CloseReport } from './engine.js';
export {
  AcquireTimeoutError,
  CallbackApiError,
  ConnectionLostError,
  HintRefusedError,
  InvalidArgumentError,
  InvalidOptionError,
  NoReplicaAvailableError,
  NotSupportedError,
  type OutcomeUnknownReason,
  PrimaryUnavailableError,
  QueryFailedError,
  ReplicaUnavailableError,
  RouterClosedError,
  RWSPLIT_ERROR_CLASSES,
  RWSPLIT_ERROR_CODES,
  RwsplitError,
  type RwsplitErrorCode,
  SessionReleasedError,
  SessionStateError,
  StatementTimeoutError,
  type TlsFailureReason,
  TlsVerificationError,
  TransactionEndedError,
  TransactionResolutionUnknownError,
  WriteOutcomeUnknownError,
} from './errors.js';
export { mysql2Driver } from './mysql2-driver.js';
export type { NodeRole } from './pool.js';
export {
  leastOutstanding,
  type ReadSelector,
  type ReadSelectorName,
  type SelectableNode,
  weightedRoundRobin,
} from './read-selector.js';
export type { ResolvedConfig } from './resolve-config.js';
export type { Route } from './route.js';
export { createRouter, type PoolStatus, Router, type SessionOptions } from './router.js';
export type {
  CircuitBreakerConfig,
  ConnectionConfig,
  HeartbeatOptions,
  LagOptions,
  MonitorOptions,
  NodeConfig,
  PoolConfig,
  ReplicaConfig,
  RouterConfig,
  TimeoutsConfig,
} from './router-config.js';
export { Session } from './session.js';
export type { Queryable, ResultTuple, RouterQueryOptions, Statement, StatementOptions } from './statement.js';
export type { NodeStatus, TopologyChange } from './topology/monitor.js';
export type { LagSource, OutOfRotationReason } from './topology/rotation.js';
export type { TopologyLogger } from './topology/topology-logger.js';
export {
  type IsolationLevel,
  Transaction,
  type TransactionCallback,
  type TransactionOptions,
} from './transaction.js';
