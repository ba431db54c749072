import { createConnection } from 'mysql2/promise';
import type { Driver, DriverConnection, DriverConnectOptions } from './driver.js';

interface HandshakeHolder {
  readonly connection?: { readonly _handshakePacket?: { readonly serverVersion?: unknown } | null };
}

interface StreamHolder {
  readonly connection?: { readonly stream?: { destroy?: () => void } };
}

/**
 * The production driver: mysql2/promise connections, used as they are except for `destroy()`. mysql2's
 * `destroy()` only half-closes the socket (`stream.end()`): against a stalled server (SIGSTOP, a dead
 * path) the socket, its file descriptor and its handle stay until the server answers, which keeps a
 * process from exiting and leaks one socket per statement the router abandons. The router means
 * "close at once", so the socket is destroyed too.
 */
export const mysql2Driver: Driver = {
  async connect(options: DriverConnectOptions): Promise<DriverConnection> {
    const connection = await createConnection(options);
    const halfClose = connection.destroy.bind(connection);
    connection.destroy = () => {
      halfClose();
      (connection as unknown as StreamHolder).connection?.stream?.destroy?.();
    };
    return connection;
  },
  serverVersion(connection: DriverConnection): string | undefined {
    // mysql2 keeps the handshake on the wrapped core connection and has no public accessor for it.
    const version = (connection as HandshakeHolder).connection?._handshakePacket?.serverVersion;
    return typeof version === 'string' ? version : undefined;
  },
};
