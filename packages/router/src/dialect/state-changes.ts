/**
 * mysql2 decodes the session-state part of an OK packet into `ResultSetHeader.stateChanges`
 * (lib/packets/resultset_header.js, mysql2 3.x) when the server sets SERVER_SESSION_STATE_CHANGED:
 * `{ systemVariables: { name: value }, schema: string | null, gtids: string[], trackStateChange: string | null }`.
 * `gtids` is the `session_track_gtids` text split at commas. mysql2's typings do not declare the field.
 */

/** The part of `stateChanges` the dialects read. */
export interface StateChanges {
  readonly systemVariables?: Readonly<Record<string, unknown>>;
  readonly gtids?: readonly unknown[];
}

export function stateChanges(result: unknown): StateChanges | undefined {
  if (result === null || typeof result !== 'object' || !('stateChanges' in result)) return undefined;
  const changes: unknown = result.stateChanges;
  return changes !== null && typeof changes === 'object' ? (changes as StateChanges) : undefined;
}
