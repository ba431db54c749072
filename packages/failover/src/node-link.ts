import { checkServerIdentity, TLSSocket } from 'node:tls';
import type { Probe, Statement } from '@rwsplit/router/replication';
import mysql from 'mysql2/promise';
import type { NodeConfig } from './config.js';
import { FailoverError } from './errors.js';

/** How the manager reaches nodes: the account and the bound on each step. */
export interface LinkSettings {
  readonly user: string;
  readonly password: string;
  /** Bound on connecting and on each statement (ms). */
  readonly timeoutMs: number;
  /** TLS: the CA (PEM) the nodes' certificates must chain to; undefined: plain connections. */
  readonly caPem?: string | undefined;
}

/**
 * One connection of the manager to one node, opened on first use and again after any failure. Every
 * statement is bounded in time: a node that stops answering (SIGSTOP, a dropped path) fails the step
 * within `timeoutMs`, and its connection is thrown away rather than reused half-way through a reply.
 */
export class NodeLink {
  private connection: mysql.Connection | undefined;
  private connecting: Promise<mysql.Connection> | undefined;
  /** `SELECT VERSION()` of the current connection. */
  version = '';

  constructor(
    readonly node: Required<NodeConfig>,
    private readonly settings: LinkSettings,
  ) {}

  /** Runs `statement`; rejects with `FailoverError` (`FAILOVER_NODE_UNREACHABLE` or `FAILOVER_STEP_FAILED`). */
  async run(statement: Statement, timeoutMs = this.settings.timeoutMs): Promise<unknown> {
    const connection = await this.open();
    try {
      const [rows] = await connection.query({
        sql: statement.sql,
        values: [...statement.values],
        timeout: timeoutMs,
      });
      return rows;
    } catch (error) {
      // A server's answer (an SQL error, with its SQLSTATE) leaves the connection usable; a timeout or a
      // broken socket does not.
      const sqlError = typeof (error as { sqlState?: unknown }).sqlState === 'string';
      if (!sqlError) this.drop();
      throw new FailoverError(
        sqlError ? 'FAILOVER_STEP_FAILED' : 'FAILOVER_NODE_UNREACHABLE',
        `${this.node.name}: ${redact(statement.sql)} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** Runs a probe and parses its result; a result it cannot read is a `FAILOVER_STEP_FAILED`. */
  async read<T>(probe: Probe<T>, timeoutMs?: number): Promise<T> {
    const parsed = probe.parse(await this.run(probe, timeoutMs));
    if (!parsed.ok) {
      throw new FailoverError(
        'FAILOVER_STEP_FAILED',
        `${this.node.name}: unexpected answer to ${probe.sql}: ${parsed.error}`,
      );
    }
    return parsed.value;
  }

  /** Runs statements in order, each bounded; stops at the first failure. */
  async runAll(statements: readonly Statement[], timeoutMs?: number): Promise<void> {
    for (const statement of statements) await this.run(statement, timeoutMs);
  }

  /** Closes the connection (a lock it held is released by the server). */
  drop(): void {
    this.connection?.destroy();
    this.connection = undefined;
    this.connecting = undefined;
  }

  private open(): Promise<mysql.Connection> {
    if (this.connection !== undefined) return Promise.resolve(this.connection);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<mysql.Connection> {
    const { node, settings } = this;
    let connection: mysql.Connection;
    try {
      connection = await mysql.createConnection({
        host: node.host,
        port: node.port,
        user: settings.user,
        password: settings.password,
        connectTimeout: settings.timeoutMs,
        // Server answers as data: counters and ids arrive as they are, not as lossy floats.
        supportBigNumbers: true,
        multipleStatements: false,
        ...(settings.caPem === undefined ? {} : { ssl: { ca: settings.caPem, rejectUnauthorized: true } }),
      });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const advice =
        code === 'ER_ACCESS_DENIED_ERROR'
          ? ' (check the manager account: user/password in the failover config)'
          : '';
      throw new FailoverError(
        'FAILOVER_NODE_UNREACHABLE',
        `${node.name} (${node.host}:${node.port}) cannot be reached: ${(error as Error).message}${advice}`,
        { cause: error },
      );
    }
    if (settings.caPem !== undefined) verifyAddress(connection, node);
    // A connection that breaks later (server gone) is replaced on next use.
    connection.on('error', () => {
      if (this.connection === connection) this.connection = undefined;
    });
    try {
      const [rows] = await connection.query({
        sql: 'SELECT VERSION() AS version',
        timeout: settings.timeoutMs,
      });
      this.version = String((rows as { version?: unknown }[])[0]?.version ?? '');
    } catch (error) {
      connection.destroy();
      throw new FailoverError('FAILOVER_NODE_UNREACHABLE', `${node.name}: no answer after connecting`, {
        cause: error,
      });
    }
    this.connection = connection;
    return connection;
  }
}

/**
 * mysql2 checks the certificate's chain but, for a node addressed by IP, not that the certificate names
 * that address: a certificate the CA issued to another node would pass. The manager checks it itself.
 * Every connection gets a fresh `ssl` object, so mysql2 never resumes a TLS session for it (a resumed
 * session has no peer certificate to check): each one is a full handshake with the node's certificate.
 */
function verifyAddress(connection: mysql.Connection, node: Required<NodeConfig>): void {
  const stream = (connection as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  const problem =
    stream instanceof TLSSocket
      ? checkServerIdentity(node.host, stream.getPeerCertificate())
      : new Error('the connection is not encrypted');
  if (problem === undefined) return;
  connection.destroy();
  throw new FailoverError(
    'FAILOVER_NODE_UNREACHABLE',
    `${node.name} (${node.host}:${node.port}): its TLS certificate does not check out: ${problem.message} (check that the node's certificate names ${node.host} and was issued by tls.ca)`,
    { cause: problem },
  );
}

/**
 * Whether a step failed because its statement got no answer within the bound on a connection that was up
 * (mysql2's `PROTOCOL_SEQUENCE_TIMEOUT`), rather than because the node could not be reached: the server may
 * still be running it.
 */
export function answerTimedOut(error: unknown): boolean {
  return (error as { cause?: { code?: unknown } } | undefined)?.cause?.code === 'PROTOCOL_SEQUENCE_TIMEOUT';
}

/** Statement text for messages: the values are never part of it (passwords travel as values). */
function redact(sql: string): string {
  return sql.length > 120 ? `${sql.slice(0, 117)}...` : sql;
}
