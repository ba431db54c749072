import type { ConnectionOptions, FieldPacket, QueryOptions, QueryResult } from 'mysql2/promise';

/**
 * The subset of mysql2 the router calls, declared here so nothing else of mysql2 leaks in and unit
 * tests can pass a fake. A mysql2/promise `Connection` satisfies `DriverConnection` as it is.
 */
export interface DriverConnection {
  query(sql: string | QueryOptions, values?: unknown): Promise<[QueryResult, FieldPacket[]]>;
  execute(sql: string | QueryOptions, values?: unknown): Promise<[QueryResult, FieldPacket[]]>;
  ping(): Promise<void>;
  /** The server's id for this connection (mysql2 has it from the handshake), for KILL QUERY. */
  readonly threadId?: number | null;
  /** COM_RESET_CONNECTION: drops user variables, temporary tables, locks and open transactions. */
  reset?(): Promise<void>;
  end(): Promise<void>;
  /** Closes the socket at once, without waiting for running statements. */
  destroy(): void;
  /** `error` for a fatal connection error outside a statement, `end` when the server closed the socket. */
  on(event: 'error' | 'end', listener: (error?: unknown) => void): unknown;
}

/** The options the router hands to `Driver.connect`: the shared connection options plus the node's address. */
export type DriverConnectOptions = ConnectionOptions & {
  readonly host: string;
  readonly port: number;
  readonly connectTimeout: number;
};

/** Opens connections. The default is mysql2's (`mysql2Driver`); tests pass a fake. */
export interface Driver {
  connect(options: DriverConnectOptions): Promise<DriverConnection>;
  /** The server version string from the handshake (used to tell MariaDB from MySQL), if the driver knows it. */
  serverVersion?(connection: DriverConnection): string | undefined;
}
