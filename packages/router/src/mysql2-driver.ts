import { createConnection } from 'mysql2/promise';
import type { Driver, DriverConnection, DriverConnectOptions } from './driver.js';

interface HandshakeHolder {
  readonly connection?: { readonly _handshakePacket?: { readonly serverVersion?: unknown } | null };
}

/** The production driver: mysql2/promise connections, used as they are. */
export const mysql2Driver: Driver = {
  connect(options: DriverConnectOptions): Promise<DriverConnection> {
    return createConnection(options);
  },
  serverVersion(connection: DriverConnection): string | undefined {
    // mysql2 keeps the handshake on the wrapped core connection and has no public accessor for it.
    const version = (connection as HandshakeHolder).connection?._handshakePacket?.serverVersion;
    return typeof version === 'string' ? version : undefined;
  },
};
