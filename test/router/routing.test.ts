import { type Cluster, startCluster } from '@rwsplit/cluster';
import { HintRefusedError, type Router, SessionStateError } from '@rwsplit/router';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicated, routerFor, serverId } from './support.js';

// One primary + one replica for the file; every test leaves the data it needs behind it.
let cluster: Cluster;
let db: Router;
let primaryId: number;
let replicaId: number;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  primaryId = cluster.primary().serverId;
  replicaId = cluster.replica(0).serverId;
  await cluster
    .primary()
    .query('CREATE TABLE app.notes (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(64) UNIQUE)');
  await replicated(cluster.replica(0), 'notes');
  db = routerFor(cluster);
});

afterAll(async () => {
  await db?.close();
  await cluster?.stop();
});

function expectAllIdle(): void {
  for (const pool of db.pools()) {
    expect(pool.used, `${pool.name} in use`).toBe(0);
    expect(pool.pending, `${pool.name} waiting`).toBe(0);
  }
}

describe('routing against MariaDB', () => {
  it('runs reads on the replica', async () => {
    expect(primaryId).not.toBe(replicaId);
    expect(await serverId(db)).toBe(replicaId);
  });

  it('runs writes on the primary', async () => {
    const [result] = await db.execute<ResultSetHeader>('INSERT INTO notes (title) VALUES (?)', ['routing']);
    expect(result.affectedRows).toBe(1);
    const rows = await cluster.primary().query('SELECT title FROM app.notes WHERE id = ?', [result.insertId]);
    expect(rows).toEqual([expect.objectContaining({ title: 'routing' })]);
    // The primary-only function proves the write's connection was the primary's: it runs there too.
    expect(await serverId(db, 'SELECT @@server_id AS id, LAST_INSERT_ID() AS last')).toBe(primaryId);
  });

  it('lets a comment hint or the target option send a read to the primary', async () => {
    expect(await serverId(db, '/* rwsplit:primary */ SELECT @@server_id AS id')).toBe(primaryId);
    expect(await serverId(db, 'SELECT @@server_id AS id', { target: 'primary' })).toBe(primaryId);
    expect(await serverId(db, '/* rwsplit:replica */ SELECT @@server_id AS id')).toBe(replicaId);
  });

  it('accepts QueryOptions objects, as Drizzle sends them', async () => {
    const [rows] = await db.query<RowDataPacket[]>(
      { sql: 'SELECT @@server_id AS id, ? AS v', rowsAsArray: true },
      [7],
    );
    expect(rows).toEqual([[replicaId, 7]]);
    const [executed] = await db.execute<RowDataPacket[]>({ sql: 'SELECT @@server_id AS id, ? AS v' }, [8]);
    expect(executed).toEqual([{ id: replicaId, v: 8 }]);
  });

  it('refuses a replica hint on a write without running it anywhere', async () => {
    await expect(
      db.execute("/* rwsplit:replica */ INSERT INTO notes (title) VALUES ('never')"),
    ).rejects.toBeInstanceOf(HintRefusedError);
    expect(await cluster.primary().query("SELECT id FROM app.notes WHERE title = 'never'")).toHaveLength(0);
  });

  it('refuses session state on the shared API', async () => {
    await expect(db.query('SET @x := 1')).rejects.toBeInstanceOf(SessionStateError);
  });

  it('passes server SQL errors through with their mysql2 code and errno', async () => {
    await db.execute('INSERT INTO notes (title) VALUES (?)', ['unique']);
    const error = await db
      .execute('INSERT INTO notes (title) VALUES (?)', ['unique'])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000' });
    expectAllIdle();
  });
});

describe('transactions against MariaDB', () => {
  it('commit on the primary, and the connection goes back', async () => {
    const id = await db.transaction(async (tx) => {
      const [result] = await tx.execute<ResultSetHeader>('INSERT INTO notes (title) VALUES (?)', [
        'committed',
      ]);
      expect(await serverId(tx)).toBe(primaryId);
      return result.insertId;
    });
    expect(await cluster.primary().query('SELECT id FROM app.notes WHERE id = ?', [id])).toHaveLength(1);
    expectAllIdle();
  });

  it('roll back when the callback throws, and the connection goes back', async () => {
    const boom = new Error('boom');
    const error = await db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO notes (title) VALUES (?)', ['rolled back']);
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(
      await cluster.primary().query("SELECT id FROM app.notes WHERE title = 'rolled back'"),
    ).toHaveLength(0);
    expectAllIdle();
  });

  it("let a read inside a write transaction see the transaction's own uncommitted row", async () => {
    await db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO notes (title) VALUES (?)', ['mine']);
        const [rows] = await tx.query<RowDataPacket[]>('SELECT title FROM notes WHERE title = ?', ['mine']);
        expect(rows).toEqual([{ title: 'mine' }]);
        throw new Error('undo');
      })
      .catch(() => {});
    const [after] = await db.query<RowDataPacket[]>(
      '/* rwsplit:primary */ SELECT title FROM notes WHERE title = ?',
      ['mine'],
    );
    expect(after).toEqual([]);
  });

  it('run readOnly transactions on the replica', async () => {
    const id = await db.transaction(async (tx) => serverId(tx), {
      readOnly: true,
      isolationLevel: 'READ COMMITTED',
    });
    expect(id).toBe(replicaId);
    expectAllIdle();
  });

  it('nest with savepoints', async () => {
    await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO notes (title) VALUES (?)', ['outer']);
      await tx
        .transaction(async (inner) => {
          await inner.execute('INSERT INTO notes (title) VALUES (?)', ['inner']);
          throw new Error('undo inner');
        })
        .catch(() => {});
    });
    const rows = await cluster
      .primary()
      .query("SELECT title FROM app.notes WHERE title IN ('outer', 'inner')");
    expect(rows.map((r) => r.title)).toEqual(['outer']);
  });
});

describe('sessions against MariaDB', () => {
  it('keep user variables and temporary tables on one primary connection', async () => {
    const session = db.session();
    expect(await serverId(session)).toBe(replicaId);
    await session.query('SET @x := 41');
    await session.query('CREATE TEMPORARY TABLE scratch (n INT)');
    await session.execute('INSERT INTO scratch VALUES (@x + 1)');
    const [rows] = await session.query<RowDataPacket[]>('SELECT n FROM scratch');
    expect(rows).toEqual([{ n: 42 }]);
    expect(await serverId(session)).toBe(primaryId);
    await session.end();
    expectAllIdle();
  });

  it('reset the connection on release so no state leaks to the next user', async () => {
    const session = db.session();
    await session.query('SET @leak := 1');
    await session.end();
    for (let i = 0; i < 5; i++) {
      const [rows] = await db.query<RowDataPacket[]>(
        '/* rwsplit:primary */ SELECT @@server_id AS id, 1 AS one',
      );
      expect(rows[0]?.id).toBe(primaryId);
      const pinned = await db.getConnection();
      const [vars] = await pinned.query<RowDataPacket[]>('SELECT @leak AS leak');
      expect(vars).toEqual([{ leak: null }]);
      pinned.release();
    }
  });

  it('serve getConnection() + begin/commit + release, pinned to the primary', async () => {
    const connection = await db.getConnection();
    await connection.query('begin');
    await connection.query({ sql: 'insert into notes (title) values (?)', rowsAsArray: true }, ['drizzle']);
    expect(await serverId(connection)).toBe(primaryId);
    await connection.query('commit');
    connection.release();
    expect(await cluster.primary().query("SELECT id FROM app.notes WHERE title = 'drizzle'")).toHaveLength(1);
    expectAllIdle();
  });
});

describe('telemetry against MariaDB', () => {
  it('detects MariaDB from the server version', async () => {
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import(
      '@opentelemetry/sdk-trace-base'
    );
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const traced = routerFor(cluster, { tracerProvider });
    await traced.query('SELECT 1');
    await traced.close();
    expect(exporter.getFinishedSpans()[0]?.attributes).toMatchObject({
      'db.system.name': 'mariadb',
      'db.namespace': 'app',
      'server.address': cluster.replica(0).host,
      'server.port': cluster.replica(0).port,
      'rwsplit.node': cluster.replica(0).name,
    });
  });
});
