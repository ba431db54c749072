import {
  createQueryId,
  type DatabaseConnection,
  type Driver,
  IdentifierNode,
  type QueryCompiler,
  RawNode,
  type TransactionSettings,
} from 'kysely';
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { IsolationLevel, TransactionOptions } from '../transaction.js';
import { RwsplitKyselyConnection } from './kysely-connection.js';
import type { RoutedClient } from './routed-client.js';

const ISOLATION_LEVELS: Readonly<Record<string, IsolationLevel>> = {
  'read uncommitted': 'READ UNCOMMITTED',
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

/**
 * Kysely's `Driver` over the router: connections that route per statement and hold a database connection
 * only for a transaction or connection state (see `RwsplitKyselyConnection`). The router owns the pools;
 * `destroy()` leaves it open (close it with `router.close()`, which may serve more than Kysely).
 *
 * No cancellation: Kysely 0.28's `Driver` and `DatabaseConnection` have no hook for it (no signal reaches
 * `executeQuery`). The router's own deadlines (`timeouts`) bound every statement, and cancel a read that
 * passes them with `KILL QUERY`.
 */
export class RwsplitKyselyDriver implements Driver {
  constructor(private readonly client: RoutedClient) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new RwsplitKyselyConnection(this.client);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return ours(connection).begin(transactionOptions(settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return ours(connection).commit();
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return ours(connection).rollback();
  }

  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    return ours(connection).inTransaction(compile(savepointCommand('savepoint', name), createQueryId()));
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    return ours(connection).inTransaction(compile(savepointCommand('rollback to', name), createQueryId()));
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    return ours(connection).inTransaction(
      compile(savepointCommand('release savepoint', name), createQueryId()),
    );
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return ours(connection).release();
  }

  async destroy(): Promise<void> {}
}

/** As Kysely's MysqlDriver builds it: the identifier node quotes the name. */
function savepointCommand(command: string, name: string): RawNode {
  return RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
}

function ours(connection: DatabaseConnection): RwsplitKyselyConnection {
  if (connection instanceof RwsplitKyselyConnection) return connection;
  throw new InvalidArgumentError(
    'The rwsplit Kysely driver was handed a connection it did not make',
    'Use the connection Kysely got from this dialect.',
  );
}

/** Kysely's transaction settings as the router's `transaction()` options. */
export function transactionOptions(settings: TransactionSettings): TransactionOptions {
  const readOnly = settings.accessMode === 'read only';
  const level = settings.isolationLevel;
  if (level === undefined) return { readOnly };
  const isolationLevel = ISOLATION_LEVELS[level];
  if (isolationLevel === undefined) {
    throw new NotSupportedError(
      `Isolation level '${level}'`,
      'MySQL and MariaDB have no such level',
      "Use 'repeatable read' (InnoDB's consistent snapshot reads) or another level they have.",
    );
  }
  return { readOnly, isolationLevel };
}
