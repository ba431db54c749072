import type { PeerCertificate } from 'node:tls';
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

/** The server side of a TLS handshake, as the driver saw it once the certificate chain was verified. */
export interface TlsPeer {
  /** The server's certificate; undefined on a resumed session (Node has none to give then). */
  readonly certificate: PeerCertificate | undefined;
  /** The handshake resumed an earlier TLS session instead of verifying a certificate afresh. */
  readonly resumed: boolean;
}

/**
 * The router's check of the server's identity (its certificate against the node's address); an error
 * when the server must not be used. Given by the router when `connection.ssl` is set and
 * `rejectUnauthorized` is not false.
 */
export type PeerVerifier = (peer: TlsPeer) => Error | undefined;

/** The options the router hands to `Driver.connect`: the shared connection options plus the node's address. */
export type DriverConnectOptions = ConnectionOptions & {
  readonly host: string;
  readonly port: number;
  readonly connectTimeout: number;
  /**
   * When set, the driver calls it once per connection, right after the TLS handshake and before sending
   * credentials, and fails the connect with the error it returns (destroying the socket). Not a mysql2
   * option: a driver strips it before handing the options on.
   */
  readonly verifyPeer?: PeerVerifier;
};

/**
 * Opens connections. The default is mysql2's (`mysql2Driver`); tests pass a fake. A driver reports a TLS
 * failure with Node's own error and code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_TLS_CERT_ALTNAME_INVALID`
 * ...), or mysql2's `HANDSHAKE_NO_SSL_SUPPORT`: the router names those `TlsVerificationError`.
 */
export interface Driver {
  connect(options: DriverConnectOptions): Promise<DriverConnection>;
  /** The server version string from the handshake (used to tell MariaDB from MySQL), if the driver knows it. */
  serverVersion?(connection: DriverConnection): string | undefined;
}
