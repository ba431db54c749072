import type { ResultSetHeader } from 'mysql2/promise';
import type { ResultTuple } from '../statement.js';

/**
 * The empty OK packet an adapter answers a transaction control statement with when it maps the statement
 * onto the router's own `transaction()` instead of sending it (the ORMs only wait for it, none reads it).
 */
export function okPacket(): ResultTuple {
  const header: Omit<ResultSetHeader, 'constructor'> = {
    fieldCount: 0,
    affectedRows: 0,
    insertId: 0,
    info: '',
    serverStatus: 0,
    warningStatus: 0,
    changedRows: 0,
  };
  return [header as ResultSetHeader, []];
}
