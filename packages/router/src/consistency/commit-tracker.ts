import type { Classification } from '../classify/classification.js';
import { isConnectionFailure } from '../connection-failure.js';
import type { Dialect, Probe } from '../dialect/dialect.js';
import type { DriverConnection } from '../driver.js';
import type { ResultTuple } from '../statement.js';
import { type GtidPosition, isEmpty } from './position.js';
import type { ReadYourWrites } from './read-your-writes.js';

/**
 * Learns the GTID position each write of a session produced: from the OK packet when the connection
 * tracks it (no extra round trip), else with one query, which also turns tracking on for that
 * connection so the next write needs none.
 */
export class CommitTracker {
  /** Connections on which this router turned GTID tracking on (a COM_RESET turns it off again). */
  private readonly tracking = new WeakSet<DriverConnection>();

  constructor(private readonly dialect: () => Dialect | undefined) {}

  /**
   * Records the position a statement (or a COMMIT) of `scope` produced on `connection`. The statement
   * itself already succeeded, so bookkeeping never fails it: if the position cannot be learned, the
   * session reads from the primary from then on. Returns true when the connection failed meanwhile
   * (the caller must not reuse it).
   */
  async record(
    connection: DriverConnection,
    result: ResultTuple,
    classification: Classification,
    scope: ReadYourWrites,
  ): Promise<boolean> {
    if (scope.mode !== 'session') return false;
    const dialect = this.dialect();
    const answer = result[0];
    // CALL with a result set and multi-statement texts answer with a list: the OK packet that carries
    // the commit's GTID is in there, and it may not be the first element, or be missing altogether.
    const several = Array.isArray(answer) && answer.some((part) => Array.isArray(part) || isHeader(part));
    let position: GtidPosition | undefined = several
      ? lastPosition(dialect, answer as readonly unknown[])
      : dialect?.commitPosition(answer);
    const ask = several || !this.tracking.has(connection);
    if (position === undefined && ask && mayHaveCommitted(classification)) {
      if (dialect === undefined) {
        scope.lostTrack();
        return false;
      }
      // Tracking is off on this connection (new, or reset): ask once, and turn it on for next time.
      try {
        position = await runProbe(connection, dialect.lastCommitPosition);
        await connection.query(dialect.enableGtidTracking.sql, dialect.enableGtidTracking.values);
        this.tracking.add(connection);
      } catch (error) {
        scope.lostTrack();
        return isConnectionFailure(error);
      }
    }
    if (position !== undefined && !isEmpty(position)) scope.recordCommit(position);
    return false;
  }

  /** A connection was reset (COM_RESET_CONNECTION): its session variables, tracking included, are gone. */
  forget(connection: DriverConnection): void {
    this.tracking.delete(connection);
  }
}

/** A ResultSetHeader (OK packet) as mysql2 returns it, not a row. */
function isHeader(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'affectedRows' in value;
}

/** The position of the last OK packet in a list of results that carries one. */
function lastPosition(dialect: Dialect | undefined, parts: readonly unknown[]): GtidPosition | undefined {
  if (dialect === undefined) return undefined;
  for (let i = parts.length - 1; i >= 0; i--) {
    const position = isHeader(parts[i]) ? dialect.commitPosition(parts[i]) : undefined;
    if (position !== undefined) return position;
  }
  return undefined;
}

/**
 * Writes, DDL and unknown statements may commit; reads and session state do not, except the transaction
 * controls that can end a transaction with a commit (COMMIT, COMMIT AND CHAIN, SET autocommit = 1).
 */
export function mayHaveCommitted(classification: Classification): boolean {
  if (classification.target !== 'primary') return false;
  if (!classification.sessionState) return true;
  const effect = classification.transaction;
  return effect === 'commit' || effect === 'chain' || effect === 'autocommit-on';
}

/** Runs a dialect probe; undefined when its answer cannot be read. */
export async function runProbe<T>(connection: DriverConnection, probe: Probe<T>): Promise<T | undefined> {
  const [rows] = await connection.query(probe.sql, probe.values);
  const parsed = probe.parse(rows);
  return parsed.ok ? parsed.value : undefined;
}
