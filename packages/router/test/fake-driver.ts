import { EventEmitter } from 'node:events';
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
  private failures: Array<{ match: RegExp; error: Error; die: boolean }> = [];
  private nextId = 1;

  constructor(
    readonly name: string,
    public reply: Reply = () => [{ server: name }] as unknown as QueryResult,
  ) {}

  /** The next statement matching `match` fails with `error`; with `die`, the connection dies with it. */
  failNext(match: RegExp, error: Error, die = false): void {
    this.failures.push({ match, error, die });
  }

  /** SQL texts executed, in order. */
  get sqls(): string[] {
    return this.executed.map((e) => e.sql);
  }

  /** Kills every open connection (as a crashed server would) and refuses new ones. */
  kill(): void {
    this.refuse = true;
    for (const connection of this.connections) connection.serverClosed();
  }

  /** @internal */
  async accept(): Promise<FakeConnection> {
    this.connectAttempts += 1;
    await Promise.resolve();
    if (this.hang) return new Promise<never>(() => {});
    if (this.refuse) throw driverError('ECONNREFUSED', true);
    const connection = new FakeConnection(this, this.nextId++);
    this.connections.add(connection);
    return connection;
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

  constructor(
    readonly server: FakeServer,
    readonly id: number,
  ) {
    super();
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
    return this.server(options.host).accept();
  }

  serverVersion(connection: DriverConnection): string | undefined {
    return connection instanceof FakeConnection ? connection.server.version : undefined;
  }
}
