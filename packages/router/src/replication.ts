/**
 * `@rwsplit/router/replication`: the router's replication knowledge for tools that manage a cluster
 * rather than route statements through it (`@rwsplit/failover`): the dialects, `SHOW REPLICA STATUS`
 * parsing, and MariaDB/MySQL GTID arithmetic. One implementation for both, so the failover manager and
 * the router never disagree about what a node has applied.
 */
export {
  type BinlogState,
  formatBinlogState,
  notIn,
  parseBinlogState,
  unionOf,
} from './consistency/mariadb-binlog-state.js';
export * as mariadbGtid from './consistency/mariadb-gtid.js';
export * as mysqlGtid from './consistency/mysql-gtid.js';
export { failed, type ParseResult, parsed } from './consistency/parse-result.js';
export {
  covers,
  type Flavor,
  formatPosition,
  type GtidPosition,
  isEmpty,
  type MariaDbPosition,
  type MySqlPosition,
  merge,
  parsePosition,
} from './consistency/position.js';
export {
  cancelStatement,
  type Dialect,
  detectDialect,
  type Probe,
  type ReplicaState,
  type RoleState,
  type Statement,
} from './dialect/dialect.js';
export { MariaDbDialect } from './dialect/mariadb-dialect.js';
export { MySqlDialect } from './dialect/mysql-dialect.js';
export { statement } from './dialect/probe.js';
export { parseReplicaStatus } from './dialect/replica-status.js';
export { asBoolean, asNumber, asText, column, type Row, rowsOf } from './dialect/row-values.js';
export { atLeast, parseServerVersion, type ServerVersion } from './dialect/server-version.js';
