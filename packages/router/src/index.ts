export type { Classification, RouteTarget } from './classify/classification.js';
export { classify } from './classify/index.js';
export type { ConsistencyConfig, ConsistencyMode } from './consistency/consistency-config.js';
export type { Driver, DriverConnection, DriverConnectOptions } from './driver.js';
export {
  AcquireTimeoutError,
  HintRefusedError,
  InvalidArgumentError,
  InvalidOptionError,
  NoReplicaAvailableError,
  PrimaryUnavailableError,
  QueryFailedError,
  ReplicaUnavailableError,
  RouterClosedError,
  RwsplitError,
  type RwsplitErrorCode,
  SessionReleasedError,
  SessionStateError,
  TransactionEndedError,
  TransactionResolutionUnknownError,
} from './errors.js';
export { mysql2Driver } from './mysql2-driver.js';
export type { NodeRole } from './pool.js';
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
} from './router-config.js';
export { type Candidate, selectWeighted } from './select.js';
export { Session } from './session.js';
export type { Queryable, ResultTuple, RouterQueryOptions, Statement, StatementOptions } from './statement.js';
export type { NodeStatus, TopologyChange, TopologyLogger } from './topology/monitor.js';
export type { OutOfRotationReason } from './topology/rotation.js';
export {
  type IsolationLevel,
  Transaction,
  type TransactionCallback,
  type TransactionOptions,
} from './transaction.js';
