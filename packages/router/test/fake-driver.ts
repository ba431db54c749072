import { EventEmitter } from 'node:events';
import type { PeerCertificate } from 'node:tls';
import type { FieldPacket, QueryOptions, QueryResult } from 'mysql2/promise';
import type { Driver, DriverConnection, DriverConnectOptions } from '../src/driver.js';

/** One executed statement, as a fake server saw it. */
export interface Executed {
  readonly server: string;
  readonly kind: 'query' | 'execute';
  readonly sql: string;
  readonly values: unknown;
  readonly connection: number;
}

type Reply = (sql: string, values: unknown) => QueryResult | Promise<QueryResult>;

/** A server certificate as Node reports it, with only what a name check reads (`IP Address:…`, `DNS:…`). */
export function certificateFor(...subjectAltNames: string[]): PeerCertificate {
  return {
    subject: { CN: 'fake server' },
    subjectaltname: subjectAltNames.join(', '),
  } as unknown as PeerCertificate;
}

export function driverError(
  code: string,
  fatal: boolean,
  errno?: number,
): Error & { code: string; fatal: boolean } {
  return Object.assign(new Error(`fake ${code}`), { code, fatal, ...(errno === undefined ? {} : { errno }) });
}

/** A database server for unit tests: records statements, can refuse, hang, fail or die. */
export class FakeServer {
  readonly executed: Executed[] = [];
  readonly connections = new Set<FakeConnection>();
  connectAttempts = 0;
  /** Connects fail with ECONNREFUSED. */
  refuse = false;
  /** Connects never answer. */
  hang = false;
  /** Pings fail. */
  pingFails = false;
  /** The next this-many pings fail (then they succeed again). */
  pingFailures = 0;
  version = '10.11.6-MariaDB';
  /**
   * What a TLS handshake with this server shows (when `connection.ssl` is set): the certificate it
   * presents, checked by the router's `verifyPeer` as mysql2Driver does; or `tlsFailure`, the error Node
   * reports when the chain fails verification (unknown CA, expired ...).
   */
  certificate: PeerCertificate | undefined;
  tlsFailure: Error | undefined;
  /** Thread ids that received KILL QUERY, in order. */
  readonly killed: number[] = [];
  private failures: Array<{ match: RegExp; error: Error; die: boolean }> = [];
  private hangs: RegExp[] = [];
  /** Every statement matching this hangs (a stalled server), until it is set back to undefined. */
  hangAll: RegExp | undefined;
  private nextId = 1;

  constructor(
    readonly name: string,
    public reply: Reply = () => [{ server: name }] as unknown as QueryResult,
  ) {}

  /** The next statement matching `match` fails with `error`; with `die`, the connection dies with it. */
  failNext(match: RegExp, error: Error, die = false): void {
    this.failures.push({ match, error, die });
  }

  /**
   * The next statement matching `match` never answers, like one on a SIGSTOPped server: until a KILL
   * QUERY for its connection arrives (then it fails with ER_QUERY_INTERRUPTED), and never at all once its
   * connection was closed by the client (mysql2 does not settle a statement on a connection it closed).
   */
  hangNext(match: RegExp): void {
    this.hangs.push(match);
  }

  /** @internal */
  takeHang(sql: string): boolean {
    if (this.hangAll?.test(sql)) return true;
    const index = this.hangs.findIndex((m) => m.test(sql));
    if (index < 0) return false;
    this.hangs.splice(index, 1);
    return true;
  }

  /** @internal KILL QUERY <id>: interrupts what that connection is running. */
  kill(threadId: number): void {
    this.killed.push(threadId);
    for (const connection of this.connections) if (connection.id === threadId) connection.interrupt();
  }

  /** SQL texts executed, in order. */
  get sqls(): string[] {
    return this.executed.map((e) => e.sql);
  }

  /** Kills every open connection (as a crashed server would) and refuses new ones. */
  crash(): void {
    this.refuse = true;
    for (const connection of this.connections) connection.serverClosed();
  }

  /** @internal */
  async accept(options?: DriverConnectOptions): Promise<FakeConnection> {
    this.connectAttempts += 1;
    await Promise.resolve();
    if (this.hang) return new Promise<never>(() => {});
    if (this.refuse) throw driverError('ECONNREFUSED', true);
    if (options?.ssl !== undefined) this.handshake(options);
    const connection = new FakeConnection(this, this.nextId++);
    this.connections.add(connection);
    return connection;
  }

  /** A TLS handshake as mysql2Driver reports it: Node's error, or what the router's check returned. */
  private handshake(options: DriverConnectOptions): void {
    const failure =
      this.tlsFailure ?? options.verifyPeer?.({ certificate: this.certificate, resumed: false });
    if (failure !== undefined) throw Object.assign(failure, { fatal: true });
  }

  /** @internal */
  takeFailure(sql: string): { error: Error; die: boolean } | undefined {
    const index = this.failures.findIndex((f) => f.match.test(sql));
    if (index < 0) return undefined;
    const [failure] = this.failures.splice(index, 1);
    return failure;
  }
}

export class FakeConnection extends EventEmitter implements DriverConnection {
  closed = false;
  resets = 0;
  /** The statement hanging on this connection: rejecting it is what KILL QUERY does. */
  private hanging: ((error: Error) => void) | undefined;

  constructor(
    readonly server: FakeServer,
    readonly id: number,
  ) {
    super();
  }

  get threadId(): number {
    return this.id;
  }

  /** @internal */
  interrupt(): void {
    const reject = this.hanging;
    this.hanging = undefined;
    if (reject !== undefined && !this.closed) {
      reject(
        Object.assign(new Error('Query execution was interrupted'), {
          code: 'ER_QUERY_INTERRUPTED',
          errno: 1317,
          fatal: false,
        }),
      );
    }
  }

  query(sql: string | QueryOptions, values?: unknown): Promise<[QueryResult, FieldPacket[]]> {
    return this.run('query', sql, values);
  }

  execute(sql: string | QueryOptions, values?: unknown): Promise<[QueryResult, FieldPacket[]]> {
    return this.run('execute', sql, values);
  }

  async ping(): Promise<void> {
    await Promise.resolve();
    if (this.closed || this.server.pingFails) throw driverError('PROTOCOL_CONNECTION_LOST', true);
    if (this.server.pingFailures > 0) {
      this.server.pingFailures--;
      throw driverError('PROTOCOL_CONNECTION_LOST', true);
    }
  }

  async reset(): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw driverError('PROTOCOL_CONNECTION_LOST', true);
    this.resets += 1;
  }

  async end(): Promise<void> {
    this.destroy();
  }

  destroy(): void {
    this.closed = true;
    this.server.connections.delete(this);
  }

  /** The server went away: the socket ends, as mysql2 reports it. */
  serverClosed(): void {
    if (this.closed) return;
    this.destroy();
    this.emit('end');
  }

  private async run(kind: 'query' | 'execute', statement: string | QueryOptions, values: unknown) {
    await Promise.resolve();
    const sql = typeof statement === 'string' ? statement : statement.sql;
    if (this.closed) throw driverError('PROTOCOL_CONNECTION_LOST', true);
    if (/^KILL QUERY/i.test(sql)) {
      this.server.executed.push({ server: this.server.name, kind, sql, values, connection: this.id });
      this.server.kill(Number((values as unknown[])[0]));
      return [[] as unknown as QueryResult, [] as FieldPacket[]] as [QueryResult, FieldPacket[]];
    }
    if (this.server.takeHang(sql)) {
      this.server.executed.push({ server: this.server.name, kind, sql, values, connection: this.id });
      return new Promise<never>((_, reject) => {
        this.hanging = reject;
      });
    }
    const failure = this.server.takeFailure(sql);
    if (failure !== undefined) {
      if (failure.die) this.serverClosed();
      throw failure.error;
    }
    const bound = values ?? (typeof statement === 'string' ? undefined : statement.values);
    this.server.executed.push({ server: this.server.name, kind, sql, values: bound, connection: this.id });
    const rows = await this.server.reply(sql, bound);
    return [rows, [] as FieldPacket[]] as [QueryResult, FieldPacket[]];
  }
}

/** A driver over fake servers, keyed by host. */
export class FakeDriver implements Driver {
  readonly servers = new Map<string, FakeServer>();
  readonly connectOptions: DriverConnectOptions[] = [];

  server(host: string): FakeServer {
    let server = this.servers.get(host);
    if (server === undefined) {
      server = new FakeServer(host);
      this.servers.set(host, server);
    }
    return server;
  }

  connect(options: DriverConnectOptions): Promise<DriverConnection> {
    this.connectOptions.push(options);
    return this.server(options.host).accept(options);
  }

  serverVersion(connection: DriverConnection): string | undefined {
    return connection instanceof FakeConnection ? connection.server.version : undefined;
  }
}
