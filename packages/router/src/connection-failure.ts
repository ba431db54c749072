import { TLS_FAILURE_CODES } from './tls-failure.js';

/**
 * Tells failures of the connection (socket closed, connect refused or timed out, server gone, TLS not
 * trusted) from SQL errors the server reported on a healthy connection. Only the former make a node
 * suspect, get wrapped in a `RwsplitError`, or allow a read to be retried elsewhere.
 */

const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  // The server is going down, or refuses new sessions: the node, not the statement, is the problem.
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED',
]);

// CR_SERVER_GONE_ERROR, CR_SERVER_LOST, ER_SERVER_SHUTDOWN, ER_CON_COUNT_ERROR, ER_CONNECTION_KILLED
const CONNECTION_ERRNOS: ReadonlySet<number> = new Set([2006, 2013, 1053, 1040, 1927]);

interface DriverErrorShape {
  readonly fatal?: unknown;
  readonly code?: unknown;
  readonly errno?: unknown;
}

export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as DriverErrorShape;
  if (e.fatal === true) return true;
  // A certificate that fails verification makes the node as unusable as a refused connect.
  if (typeof e.code === 'string' && (CONNECTION_CODES.has(e.code) || TLS_FAILURE_CODES.has(e.code)))
    return true;
  return typeof e.errno === 'number' && CONNECTION_ERRNOS.has(e.errno);
}

/** A short description of a driver failure for messages: its code when it has one. */
export function describeFailure(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as DriverErrorShape).code;
    if (typeof code === 'string') return code;
    if (error instanceof Error) return error.message;
  }
  return String(error);
}

/** ER_OPTION_PREVENTS_STATEMENT: the server runs with `read_only` (or `super_read_only`). */
const READ_ONLY_ERRNO = 1290;

/**
 * A statement the server refused because it is read-only: nothing was executed. On the node the router
 * took for the primary that means the primary moved (a switchover fenced it, a failover is under way).
 */
export function isReadOnlyRefusal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as DriverErrorShape).errno === READ_ONLY_ERRNO;
}
