import { TLSSocket } from 'node:tls';
import { createConnection } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import type { Driver, DriverConnection, DriverConnectOptions, PeerVerifier, TlsPeer } from './driver.js';
import { PEER_NOT_CHECKED } from './tls-failure.js';

interface HandshakeHolder {
  readonly connection?: { readonly _handshakePacket?: { readonly serverVersion?: unknown } | null };
}

interface StreamHolder {
  readonly connection?: { readonly stream?: { destroy?: () => void } };
}

/** What the router uses of mysql2's core (callback) connection, beyond its public API. */
interface CoreConnection {
  /** Upgrades the socket to TLS; `onSecure` is called once, with Node's error if the handshake failed. */
  startTLS?: (onSecure: (error?: Error) => void) => void;
  /** The socket: the TLS socket once `startTLS` began. */
  readonly stream?: { destroy?: () => void };
  once(event: 'connect', listener: () => void): unknown;
  once(event: 'error', listener: (error: unknown) => void): unknown;
  promise(): Connection;
}

/** The TLS handshake of one connect, as far as the router's check is concerned. */
interface TlsWatch {
  /** The router's check ran (the handshake got as far as a verified chain). */
  checked: boolean;
  /** Why the handshake failed, to report instead of mysql2's renamed copy. */
  failure: Error | undefined;
  /** The failure's code before mysql2 renamed it. */
  code: unknown;
}

/**
 * Runs the router's identity check inside mysql2's TLS upgrade, after Node verified the chain and before
 * mysql2 sends the credentials: a server that is not the node never sees them. mysql2 renames every TLS
 * error `HANDSHAKE_SSL_ERROR`, losing Node's code (which tells an unknown CA from an expired certificate,
 * and both from a reset socket), so the code is kept here and put back (`connectFailure`).
 */
function watchTls(core: CoreConnection, verifyPeer: PeerVerifier): TlsWatch {
  const watch: TlsWatch = { checked: false, failure: undefined, code: undefined };
  const startTLS = core.startTLS;
  if (typeof startTLS !== 'function') return watch;
  core.startTLS = (onSecure) => {
    startTLS.call(core, (error) => {
      let failure = error;
      if (failure === undefined) {
        watch.checked = true;
        failure = verify(verifyPeer, core.stream);
      }
      if (failure !== undefined) {
        watch.failure = failure;
        watch.code = (failure as { readonly code?: unknown }).code;
      }
      onSecure(failure);
    });
  };
  return watch;
}

/** The check's verdict; a check that throws (inside mysql2's socket callback, it would crash the process) fails. */
function verify(verifyPeer: PeerVerifier, stream: unknown): Error | undefined {
  try {
    return verifyPeer(peerOf(stream));
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function peerOf(stream: unknown): TlsPeer {
  if (!(stream instanceof TLSSocket)) return { certificate: undefined, resumed: false };
  const resumed = stream.isSessionReused();
  const certificate = stream.getPeerCertificate();
  // Node gives an empty object when there is no certificate (a resumed session).
  return { certificate: Object.keys(certificate).length === 0 ? undefined : certificate, resumed };
}

function opened(core: CoreConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    core.once('connect', resolve);
    core.once('error', reject);
  });
}

/** The connect failed with `error`: what to report (a TLS failure with the code Node gave it). */
function connectFailure(watch: TlsWatch | undefined, error: unknown): unknown {
  if (watch?.failure === undefined) return error;
  return Object.assign(watch.failure, { code: watch.code, fatal: true });
}

/**
 * The production driver: mysql2/promise connections, used as they are except for `destroy()` and the
 * TLS check. mysql2's `destroy()` only half-closes the socket (`stream.end()`): against a stalled server
 * (SIGSTOP, a dead path) the socket, its file descriptor and its handle stay until the server answers,
 * which keeps a process from exiting and leaks one socket per statement the router abandons. The router
 * means "close at once", so the socket is destroyed too. With `verifyPeer`, the server's certificate is
 * checked during the handshake (see `watchTls`); a connect that never reached that check although TLS was
 * required fails rather than go unchecked.
 */
export const mysql2Driver: Driver = {
  async connect(options: DriverConnectOptions): Promise<DriverConnection> {
    // Not a mysql2 option (mysql2 warns about unknown ones).
    const { verifyPeer, ...mysqlOptions } = options;
    const core = createConnection(mysqlOptions) as unknown as CoreConnection;
    const watch = verifyPeer === undefined ? undefined : watchTls(core, verifyPeer);
    try {
      await opened(core);
    } catch (error) {
      // mysql2 only half-closes the socket of a failed connect (`stream.end()`), which a stalled or
      // hostile server can keep open: closed at once, as `destroy()` below does.
      core.stream?.destroy?.();
      throw connectFailure(watch, error);
    }
    if (watch !== undefined && !watch.checked) {
      core.stream?.destroy?.();
      throw Object.assign(
        new Error(
          'mysql2 opened the connection without a TLS handshake the router could check, so the identity of the server is unknown',
        ),
        { code: PEER_NOT_CHECKED, fatal: true },
      );
    }
    const connection = core.promise();
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
