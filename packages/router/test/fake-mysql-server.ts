import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext, type SecureVersion, TLSSocket } from 'node:tls';

/**
 * Just enough of a MySQL server to test TLS with the real mysql2 client: the greeting (offering TLS when
 * it has a certificate), the TLS upgrade, any credentials accepted, and OK for every command. Nothing
 * else of the protocol: it is the real handshake that matters here.
 */

// CLIENT_LONG_PASSWORD, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION, PLUGIN_AUTH
const CAPABILITIES = 0x1 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000;
const CLIENT_SSL = 0x800;
const COM_QUIT = 0x01;
// OK packet: no rows affected, no insert id, autocommit status, no warnings.
const OK = Buffer.from([0, 0, 0, 2, 0, 0, 0]);

function packet(sequenceId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}

/** Protocol::HandshakeV10, with a zero scramble and mysql_native_password. */
function greeting(capabilities: number): Buffer {
  const version = Buffer.from('10.11.6-MariaDB\0');
  const payload = Buffer.alloc(1 + version.length + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13);
  let at = 0;
  payload[at++] = 10;
  at += version.copy(payload, at);
  payload.writeUInt32LE(1, at);
  at += 4 + 8 + 1;
  payload.writeUInt16LE(capabilities & 0xffff, at);
  at += 2;
  payload[at++] = 45; // utf8mb4_general_ci
  payload.writeUInt16LE(2, at);
  at += 2;
  payload.writeUInt16LE(capabilities >>> 16, at);
  at += 2;
  payload[at++] = 21;
  return Buffer.concat([payload, Buffer.from('mysql_native_password\0')]);
}

/** Calls `onPacket` with each whole packet `stream` delivers, until it returns true (then stops reading). */
function readPackets(
  stream: Socket,
  onPacket: (sequenceId: number, payload: Buffer, rest: Buffer) => boolean | undefined,
): void {
  let buffered = Buffer.alloc(0);
  const onData = (data: Buffer) => {
    buffered = Buffer.concat([buffered, data]);
    while (buffered.length >= 4) {
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < 4 + length) return;
      const sequenceId = buffered[3]!;
      const payload = buffered.subarray(4, 4 + length);
      buffered = buffered.subarray(4 + length);
      if (onPacket(sequenceId, payload, buffered) === true) {
        stream.off('data', onData);
        return;
      }
    }
  };
  stream.on('data', onData);
}

export class FakeMysqlServer {
  /** Handshake responses (credentials) received. */
  credentials = 0;
  /** TLS handshakes that resumed an earlier session. */
  resumedSessions = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1; with `tls`, offers TLS and presents its certificate. */
  static async start(tls: SecureContext | undefined): Promise<FakeMysqlServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const fake = new FakeMysqlServer(server, address.port);
    server.on('connection', (socket) => fake.accept(socket, tls));
    return fake;
  }

  /** Client sockets still open. */
  get openSockets(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(socket: Socket, tls: SecureContext | undefined): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(packet(0, greeting(tls === undefined ? CAPABILITIES : CAPABILITIES | CLIENT_SSL)));
    readPackets(socket, (sequenceId, payload, rest) => {
      // SSLRequest: 32 bytes of flags, then the TLS handshake on the same socket.
      if (tls !== undefined && payload.length === 32) {
        socket.pause();
        if (rest.length > 0) socket.unshift(rest);
        const secure = new TLSSocket(socket, { isServer: true, secureContext: tls });
        secure.on('error', () => {});
        secure.on('secure', () => {
          if (secure.isSessionReused()) this.resumedSessions++;
        });
        readPackets(secure, (next) => this.authenticated(secure, next));
        return true;
      }
      return this.authenticated(socket, sequenceId);
    });
  }

  /** The handshake response arrived (sequence id `sequenceId`): accept it, then answer every command. */
  private authenticated(stream: Socket, sequenceId: number): true {
    this.credentials++;
    stream.write(packet(sequenceId + 1, OK));
    readPackets(stream, (commandSequence, command) => {
      if (command[0] === COM_QUIT) {
        stream.end();
        return true;
      }
      stream.write(packet(commandSequence + 1, OK));
      return undefined;
    });
    return true;
  }
}

/** A CA and server certificates it issued, in a temporary directory; `remove()` deletes them. */
export interface TestPki {
  readonly caPem: string;
  /**
   * A server context whose certificate has these subjectAltNames (`IP:127.0.0.1`, `DNS:db`), speaking
   * TLS up to `maxVersion`.
   */
  serverContext(subjectAltNames: readonly string[], maxVersion?: SecureVersion): SecureContext;
  remove(): void;
}

/** Whether the openssl command is there to make certificates with (Node cannot issue them). */
export function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version']).status === 0;
}

/** A fresh P-256 CA, as the cluster harness makes one: its certificates name servers by SAN only. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'rwsplit-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...key,
    '-days',
    '1',
    '-subj',
    '/CN=test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
  );
  let issued = 0;
  return {
    caPem: readFileSync(file('ca.crt'), 'utf8'),
    serverContext(subjectAltNames, maxVersion) {
      const name = `server-${++issued}`;
      openssl(
        'req',
        ...key,
        '-subj',
        `/CN=${name}`,
        '-keyout',
        file(`${name}.key`),
        '-out',
        file(`${name}.csr`),
      );
      writeFileSync(file(`${name}.ext`), `subjectAltName=${subjectAltNames.join(',')}\n`);
      openssl(
        'x509',
        '-req',
        '-in',
        file(`${name}.csr`),
        '-CA',
        file('ca.crt'),
        '-CAkey',
        file('ca.key'),
        '-set_serial',
        String(issued),
        '-days',
        '1',
        '-extfile',
        file(`${name}.ext`),
        '-out',
        file(`${name}.crt`),
      );
      return createSecureContext({
        key: readFileSync(file(`${name}.key`)),
        cert: readFileSync(file(`${name}.crt`)),
        ...(maxVersion === undefined ? {} : { maxVersion }),
      });
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
