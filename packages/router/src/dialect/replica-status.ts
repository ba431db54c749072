import { failed, type ParseResult, parsed } from '../consistency/parse-result.js';
import type { ReplicaState } from './dialect.js';
import { asNumber, asText, column, hasColumn, type Row, rowsOf } from './row-values.js';

/**
 * Reads `SHOW SLAVE STATUS` (MariaDB, MySQL before 8.0.22) and `SHOW REPLICA STATUS` (MySQL 8.0.22+, and
 * MariaDB 10.5+ which keeps the old column names) alike: the new names (`Replica_IO_Running`,
 * `Source_Host`, `Seconds_Behind_Source`) are read first, the old ones (`Slave_...`, `Master_...`) after.
 * No row means the node does not replicate. With several rows (MySQL channels, MariaDB named
 * connections) the default channel (empty name) is the one read, else the first row.
 */
export function parseReplicaStatus(result: unknown): ParseResult<ReplicaState | undefined> {
  const rows = rowsOf(result);
  if (rows === undefined) return failed('replica status is not a list of rows');
  const row = defaultChannel(rows);
  if (row === undefined) return parsed(undefined);

  const required: Array<[string, string]> = [
    ['Replica_IO_Running', 'Slave_IO_Running'],
    ['Replica_SQL_Running', 'Slave_SQL_Running'],
    ['Seconds_Behind_Source', 'Seconds_Behind_Master'],
    ['Source_Host', 'Master_Host'],
    ['Source_Port', 'Master_Port'],
  ];
  const missing = required.filter((names) => !hasColumn(row, ...names)).map(([name]) => name);
  if (missing.length > 0) return failed(`replica status lacks ${missing.join(', ')}`);

  const behindValue = column(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master');
  const secondsBehind = behindValue === null ? null : asNumber(behindValue);
  if (secondsBehind === undefined)
    return failed(`Seconds_Behind_Source is not a number: ${String(behindValue)}`);
  const sourcePort = asNumber(column(row, 'Source_Port', 'Master_Port'));
  if (sourcePort === undefined) return failed('Source_Port is not a number');

  const errors = [column(row, 'Last_IO_Error'), column(row, 'Last_SQL_Error')]
    .map((value) => asText(value) ?? '')
    .filter((text) => text !== '');
  return parsed(
    Object.freeze({
      ioRunning: running(column(row, 'Replica_IO_Running', 'Slave_IO_Running')),
      sqlRunning: running(column(row, 'Replica_SQL_Running', 'Slave_SQL_Running')),
      secondsBehind,
      sourceHost: asText(column(row, 'Source_Host', 'Master_Host')) ?? '',
      sourcePort,
      lastError: errors.join('; '),
      ioState: asText(column(row, 'Replica_IO_Running', 'Slave_IO_Running')) ?? '',
      ioErrno: asNumber(column(row, 'Last_IO_Errno')) ?? 0,
      sqlErrno: asNumber(column(row, 'Last_SQL_Errno')) ?? 0,
      receivedGtids: asText(column(row, 'Gtid_IO_Pos', 'Retrieved_Gtid_Set')) ?? '',
    }),
  );
}

function defaultChannel(rows: readonly Row[]): Row | undefined {
  return rows.find((row) => asText(column(row, 'Channel_Name', 'Connection_name')) === '') ?? rows[0];
}

// `Connecting` (MySQL, MariaDB) and `Preparing` (MariaDB) are not running yet.
function running(value: unknown): boolean {
  return asText(value) === 'Yes';
}
