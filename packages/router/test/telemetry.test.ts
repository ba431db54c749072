import {
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { RouterConfig } from '../src/index.js';
import { driverError } from './fake-driver.js';
import { type Rig, rig } from './setup.js';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Telemetered extends Rig {
  readonly spans: () => ReadableSpan[];
  readonly metrics: () => Promise<ResourceMetrics>;
}

let current: Rig | undefined;
afterEach(async () => {
  await current?.router.close();
  current = undefined;
});

function make(options: Partial<RouterConfig> & { replicaCount?: number } = {}): Telemetered {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const rigged = rig({ tracerProvider, meterProvider, connection: { database: 'app' }, ...options });
  current = rigged;
  return {
    ...rigged,
    spans: () => exporter.getFinishedSpans(),
    metrics: async () => (await reader.collect()).resourceMetrics,
  };
}

function metricPoints(metrics: ResourceMetrics, name: string): DataPoint<unknown>[] {
  const found = metrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (found?.dataPoints ?? []) as DataPoint<unknown>[];
}

describe('spans', () => {
  it('describes a routed read with the database conventions and rwsplit attributes', async () => {
    const t = make();
    await t.router.query('SELECT title FROM notes WHERE owner = ?', ['secret-owner']);
    const [span] = t.spans();
    expect(span?.name).toBe('SELECT');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toEqual({
      'db.system.name': 'mariadb',
      'db.operation.name': 'SELECT',
      'db.query.text': 'SELECT title FROM notes WHERE owner = ?',
      'db.namespace': 'app',
      'server.address': 'r1',
      'server.port': 3306,
      'rwsplit.target': 'replica',
      'rwsplit.node': 'replica-1',
      'rwsplit.reason': 'read',
    });
    expect(JSON.stringify(span?.attributes)).not.toContain('secret-owner');
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('uses the configured db system instead of detecting it', async () => {
    const t = make({ dbSystem: 'mysql' });
    await t.router.execute('INSERT INTO t VALUES (1)');
    expect(t.spans()[0]?.attributes).toMatchObject({
      'db.system.name': 'mysql',
      'rwsplit.target': 'primary',
      'rwsplit.node': 'primary',
      'rwsplit.reason': 'write',
      'server.address': 'p',
    });
  });

  it('records the hint as the reason', async () => {
    const t = make();
    await t.router.query('/* rwsplit:primary */ SELECT 1');
    await t.router.query('SELECT 1', [], { target: 'primary' });
    expect(t.spans().map((s) => s.attributes['rwsplit.reason'])).toEqual(['hint', 'target option']);
  });

  it('marks a read that fell back to the primary', async () => {
    const t = make({ circuitBreaker: { failureThreshold: 1 } });
    t.replicas[0]!.refuse = true;
    await t.router.query('SELECT 1');
    await t.router.query('SELECT 2');
    const [retried, skipped] = t.spans();
    expect(retried?.attributes).toMatchObject({
      'rwsplit.target': 'primary',
      'rwsplit.node': 'primary',
      'rwsplit.fallback': 'replica failed',
    });
    expect(retried?.events.map((e) => [e.name, e.attributes])).toEqual([
      ['rwsplit.retry', { 'rwsplit.node': 'replica-1', 'error.type': 'RWSPLIT_REPLICA_UNAVAILABLE' }],
    ]);
    expect(skipped?.attributes['rwsplit.fallback']).toBe('no healthy replica');
  });

  it('records SQL errors with error.type and the server status code', async () => {
    const t = make();
    t.primary.failNext(/INSERT/, driverError('ER_DUP_ENTRY', false, 1062));
    await expect(t.router.execute('INSERT INTO t VALUES (1)')).rejects.toThrow();
    const [span] = t.spans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes).toMatchObject({
      'error.type': 'ER_DUP_ENTRY',
      'db.response.status_code': '1062',
    });
  });

  it('records refusals with the rwsplit error code', async () => {
    const t = make();
    await expect(t.router.query('SET @x := 1')).rejects.toThrow();
    expect(t.spans()[0]?.attributes).toMatchObject({
      'db.operation.name': 'SET',
      'error.type': 'RWSPLIT_SESSION_STATE',
    });
  });

  it('leaves out the query text when queryText is never', async () => {
    const t = make({ queryText: 'never' });
    await t.router.query('SELECT 1');
    expect(t.spans()[0]?.attributes['db.query.text']).toBeUndefined();
  });

  it('hangs a transaction statements under one parent span', async () => {
    const t = make();
    await t.router.transaction(async (tx) => {
      await tx.query('SELECT 1');
    });
    const spans = t.spans();
    const parent = spans.find((s) => s.name === 'transaction');
    expect(parent?.kind).toBe(SpanKind.INTERNAL);
    expect(parent?.attributes).toMatchObject({
      'rwsplit.target': 'primary',
      'rwsplit.node': 'primary',
      'rwsplit.reason': 'transaction',
      'rwsplit.read_only': false,
    });
    const children = spans.filter((s) => s !== parent);
    expect(children.map((s) => s.name)).toEqual(['START', 'SELECT', 'COMMIT']);
    for (const child of children) {
      expect(child.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
      expect(child.attributes['rwsplit.reason']).toBe('transaction');
    }
  });

  it('marks a failed transaction span', async () => {
    const t = make();
    await expect(
      t.router.transaction(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const parent = t.spans().find((s) => s.name === 'transaction');
    expect(parent?.status.code).toBe(SpanStatusCode.ERROR);
    expect(parent?.attributes['error.type']).toBe('Error');
  });
});

describe('metrics', () => {
  it('records db.client.operation.duration in seconds per node and operation', async () => {
    const t = make();
    await t.router.query('SELECT 1');
    await t.router.query('SELECT 2');
    await t.router.execute('INSERT INTO t VALUES (1)');
    const points = metricPoints(await t.metrics(), 'db.client.operation.duration') as DataPoint<Histogram>[];
    const select = points.find((p) => p.attributes['db.operation.name'] === 'SELECT');
    expect(select?.attributes).toEqual({
      'db.system.name': 'mariadb',
      'db.operation.name': 'SELECT',
      'db.namespace': 'app',
      'server.address': 'r1',
      'server.port': 3306,
    });
    expect(select?.value.count).toBe(2);
    expect(select?.value.sum).toBeLessThan(1);
    expect(points.find((p) => p.attributes['db.operation.name'] === 'INSERT')?.value.count).toBe(1);
  });

  it('adds error.type to the duration of failed statements', async () => {
    const t = make();
    t.primary.failNext(/INSERT/, driverError('ER_DUP_ENTRY', false, 1062));
    await expect(t.router.execute('INSERT INTO t VALUES (1)')).rejects.toThrow();
    const points = metricPoints(await t.metrics(), 'db.client.operation.duration');
    expect(points[0]?.attributes['error.type']).toBe('ER_DUP_ENTRY');
  });

  it('counts routing decisions by target and reason', async () => {
    const t = make();
    await t.router.query('SELECT 1');
    await t.router.query('SELECT 1');
    await t.router.execute('UPDATE t SET a = 1');
    await t.router.query('/* rwsplit:primary */ SELECT 1');
    const points = metricPoints(await t.metrics(), 'rwsplit.routing.decisions');
    const summary = points.map((p) => [
      p.attributes['rwsplit.target'],
      p.attributes['rwsplit.reason'],
      p.value,
    ]);
    expect(summary).toEqual(
      expect.arrayContaining([
        ['replica', 'read', 2],
        ['primary', 'write', 1],
        ['primary', 'hint', 1],
      ]),
    );
  });

  it('observes idle and used connections per pool', async () => {
    const t = make();
    await t.router.query('SELECT 1');
    const held = await t.router.getConnection();
    const points = metricPoints(await t.metrics(), 'db.client.connection.count');
    const summary = points.map((p) => [
      p.attributes['db.client.connection.pool.name'],
      p.attributes['db.client.connection.state'],
      p.value,
    ]);
    expect(summary).toEqual(
      expect.arrayContaining([
        ['primary', 'idle', 0],
        ['primary', 'used', 1],
        ['replica-1', 'idle', 1],
        ['replica-1', 'used', 0],
      ]),
    );
    held.release();
  });
});

describe('topology gauges', () => {
  it("reports each node's reachability and writability, and each replica's rotation, as the router sees them", async () => {
    const t = make({ replicaCount: 2 });
    const byNode = async (name: string) =>
      Object.fromEntries(
        metricPoints(await t.metrics(), name).map((p) => [p.attributes['rwsplit.node'], p.value]),
      );
    const names = t.router.topology().map((node) => node.name);
    const replicas = t.router.topology().filter((node) => node.role === 'replica');
    expect(Object.keys(await byNode('rwsplit.node.reachable')).sort()).toEqual([...names].sort());
    expect(await byNode('rwsplit.node.writable')).toEqual(
      Object.fromEntries(
        t.router.topology().map((node) => [node.name, node.role === 'primary' && node.reachable ? 1 : 0]),
      ),
    );
    expect(await byNode('rwsplit.replica.in_rotation')).toEqual(
      Object.fromEntries(replicas.map((node) => [node.name, node.inRotation ? 1 : 0])),
    );
    // Lag is reported only where it is known: never a made-up 0.
    const lag = await byNode('rwsplit.replica.lag');
    for (const node of replicas) {
      if (node.lagMs === null) expect(lag).not.toHaveProperty(node.name);
      else expect(lag[node.name]).toBe(node.lagMs / 1_000);
    }
  });
});

describe('without an SDK', () => {
  it('builds no span attributes when spans are not recording', async () => {
    let calls = 0;
    const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const counting = new Proxy(span, {
      get(target, property, receiver) {
        if (property === 'setAttribute' || property === 'setAttributes' || property === 'addEvent') {
          return () => {
            calls += 1;
            return receiver;
          };
        }
        return Reflect.get(target, property, receiver);
      },
    }) as Span;
    const tracer: Tracer = {
      startSpan: () => counting,
      startActiveSpan: (() => {
        throw new Error('unused');
      }) as Tracer['startActiveSpan'],
    };
    const tracerProvider: TracerProvider = { getTracer: () => tracer };
    current = rig({ tracerProvider, circuitBreaker: { failureThreshold: 1 } });
    current.replicas[0]!.refuse = true;
    await current.router.query('SELECT 1');
    await current.router.transaction(async (tx) => tx.query('SELECT 1'));
    await expect(current.router.query('SET @x := 1')).rejects.toThrow();
    expect(calls).toBe(0);
  });

  it('works with the global no-op API', async () => {
    current = rig();
    await current.router.query('SELECT 1');
    await current.router.transaction(async (tx) => tx.execute('UPDATE t SET a = 1'));
    expect(current.primary.sqls).toEqual(['START TRANSACTION', 'UPDATE t SET a = 1', 'COMMIT']);
  });
});
