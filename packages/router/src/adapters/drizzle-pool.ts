import type { ExecuteValues, QueryValues } from 'mysql2/promise';
import type { Queryable, ResultTuple, Statement } from '../statement.js';
import { DrizzleConnection } from './drizzle-connection.js';
import type { TransactionRunner } from './held-transaction.js';

/** What the bridge needs of a router or a session: mysql2/promise's statements and `transaction(fn, options)`. */
export type DrizzleRunner = Pick<Queryable, 'query' | 'execute'> & TransactionRunner;

/**
 * The client drizzle-orm's mysql2 session is given: the subset of mysql2's promise `Pool` it calls, and
 * nothing more. Statements go to the router or session as they are (drizzle-orm sends mysql2 options
 * objects, `{ sql, rowsAsArray, typeCast }`, which the router accepts), so each is classified and routed.
 * `getConnection()` is how drizzle-orm runs a transaction (and an `iterator()`); it gets a
 * `DrizzleConnection`, which holds no connection until a transaction starts. Having `getConnection` is
 * also what makes drizzle-orm treat the client as a pool (`'getConnection' in client`), so that each
 * `db.transaction()` gets a transaction of its own, on a session too.
 */
export class DrizzlePool {
  constructor(private readonly runner: DrizzleRunner) {}

  query(statement: Statement, values?: QueryValues): Promise<ResultTuple> {
    return this.runner.query(statement, values);
  }

  execute(statement: Statement, values?: ExecuteValues): Promise<ResultTuple> {
    return this.runner.execute(statement, values);
  }

  getConnection(): Promise<DrizzleConnection> {
    return Promise.resolve(new DrizzleConnection(this.runner));
  }
}
