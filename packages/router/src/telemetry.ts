import {
  type Attributes,
  type Context,
  type Counter,
  context,
  createNoopMeter,
  type Histogram,
  type Meter,
  metrics,
  type ObservableCounter,
  type ObservableResult,
  type ObservableUpDownCounter,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { RwsplitError } from './errors.js';
import type { NodePool } from './pool.js';
import type { ResolvedConfig } from './resolve-config.js';
import type { Route } from './route.js';
import type { NodeStatus, TopologyChange } from './topology/monitor.js';

/**
 * OpenTelemetry through the API package only, with the current database semantic conventions.
 *
 * Cost without an SDK: the API's no-op tracer hands out one `NonRecordingSpan` per statement and
 * nothing else happens: attributes are only built when `span.isRecording()`, and with the API's no-op
 * meter (no MeterProvider given, none registered when the router was made) no metric is recorded at all.
 * With an SDK, metric attribute sets are cached per node and operation, and routing decisions are
 * counted here in plain numbers and reported when the SDK collects: an SDK hashes the attributes of
 * every point recorded, which would cost a statement microseconds.
 */

const SCOPE = '@rwsplit/router';
/**
 * The API's own no-op provider: what the global tracer provider delegates to until an SDK registers
 * (a fresh proxy has no delegate, so it hands out that shared one).
 */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
/** Every statement's span while no SDK is registered: records nothing, carries no context (nothing is a child of a statement). */
const NOT_TRACED = new ProxyTracerProvider().getTracer(SCOPE).startSpan('rwsplit.statement');
const CLIENT = { kind: SpanKind.CLIENT } as const;
const INTERNAL = { kind: SpanKind.INTERNAL } as const;
// Semantic conventions' recommended boundaries for db.client.operation.duration.
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

export type DbSystem = 'mysql' | 'mariadb';

export type ConsistencyWaitOutcome = 'reached' | 'timed_out' | 'failed';
const WAIT_ATTRIBUTES: Record<ConsistencyWaitOutcome, Attributes> = {
  reached: { 'rwsplit.outcome': 'reached' },
  timed_out: { 'rwsplit.outcome': 'timed_out' },
  failed: { 'rwsplit.outcome': 'failed' },
};

interface DriverErrorShape {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly sqlState?: unknown;
}

/** `error.type`: our stable code, mysql2's code (`ER_DUP_ENTRY`, `ECONNREFUSED`), or the class name. */
export function errorType(error: unknown): string {
  if (error instanceof RwsplitError) return error.code;
  if (typeof error === 'object' && error !== null) {
    const code = (error as DriverErrorShape).code;
    if (typeof code === 'string' && code !== '') return code;
    if (error instanceof Error) return error.name;
  }
  return '_OTHER';
}

export class Telemetry {
  private readonly tracer: Tracer;
  /** The global provider when none was configured: an SDK may register on it at any time. */
  private readonly globalTracerProvider: ProxyTracerProvider | undefined;
  private readonly meter: Meter;
  private readonly duration: Histogram;
  private readonly decisions: ObservableCounter;
  /** Whether a real meter records anything: false with the API's no-op meter (then no statement reads the clock for it). */
  readonly metered: boolean;
  /** Statements routed, by route: interned routes are their own key, fallbacks (rare) by their attributes. */
  private readonly decisionCounts = new Map<Route | string, { count: number; attributes: Attributes }>();
  private readonly connectionCount: ObservableUpDownCounter;
  private readonly topologyChanges: Counter;
  private readonly consistencyWaits: Counter;
  private readonly namespace: string | undefined;
  private readonly queryText: boolean;
  private system: DbSystem;
  private readonly systemFixed: boolean;
  /** node → operation → attributes of successful statements. */
  private durationAttributes = new Map<NodePool, Map<string, Attributes>>();
  private readonly observe = (result: ObservableResult) => this.observeConnections(result);
  private readonly observeDecisions = (result: ObservableResult) => {
    for (const { count, attributes } of this.decisionCounts.values()) result.observe(count, attributes);
  };

  constructor(
    config: ResolvedConfig,
    private readonly nodes: readonly NodePool[],
  ) {
    const globalProvider = trace.getTracerProvider();
    this.globalTracerProvider =
      config.tracerProvider === undefined && globalProvider instanceof ProxyTracerProvider
        ? globalProvider
        : undefined;
    this.tracer = (config.tracerProvider ?? globalProvider).getTracer(SCOPE);
    this.meter = (config.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
    this.metered = this.meter !== createNoopMeter();
    this.system = config.dbSystem ?? 'mysql';
    this.systemFixed = config.dbSystem !== undefined;
    this.namespace = typeof config.connection.database === 'string' ? config.connection.database : undefined;
    this.queryText = config.queryText === 'always';
    this.duration = this.meter.createHistogram('db.client.operation.duration', {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.decisions = this.meter.createObservableCounter('rwsplit.routing.decisions', {
      description: 'Statements routed, by target and reason.',
      unit: '{statement}',
    });
    this.decisions.addCallback(this.observeDecisions);
    this.connectionCount = this.meter.createObservableUpDownCounter('db.client.connection.count', {
      description: 'Connections per node pool, by state.',
      unit: '{connection}',
    });
    this.connectionCount.addCallback(this.observe);
    this.topologyChanges = this.meter.createCounter('rwsplit.topology.changes', {
      description: 'Replicas leaving or re-entering rotation, and changes of the write target.',
      unit: '{change}',
    });
    this.consistencyWaits = this.meter.createCounter('rwsplit.consistency.waits', {
      description: "Bounded waits on a replica for a session's last write, by outcome.",
      unit: '{wait}',
    });
  }

  /**
   * What the monitor sees, as gauges read at each collection (nothing is computed per statement):
   * `rwsplit.node.reachable` (1/0), `rwsplit.node.writable` (1 for the node taking writes), and for
   * replicas `rwsplit.replica.lag` (seconds, absent while unknown) and `rwsplit.replica.in_rotation` (1/0).
   * Alert rules watch these: a replica out of rotation, lag above a bound, no writable node.
   */
  observeTopology(topology: () => readonly NodeStatus[]): void {
    const gauge = (name: string, description: string, unit: string) =>
      this.meter.createObservableGauge(name, { description, unit });
    const reachable = gauge('rwsplit.node.reachable', 'The monitor reaches the node (1) or not (0).', '1');
    const writable = gauge(
      'rwsplit.node.writable',
      "The node takes writes (read_only off) in this router's view.",
      '1',
    );
    const lag = gauge('rwsplit.replica.lag', "A replica's replication lag as the monitor measures it.", 's');
    const inRotation = gauge(
      'rwsplit.replica.in_rotation',
      'The replica serves reads (1) or is out of rotation (0).',
      '1',
    );
    this.meter.addBatchObservableCallback(
      (result) => {
        for (const node of topology()) {
          const attributes = { 'rwsplit.node': node.name };
          result.observe(reachable, node.reachable ? 1 : 0, attributes);
          result.observe(writable, node.role === 'primary' && node.reachable ? 1 : 0, attributes);
          if (node.role !== 'replica') continue;
          result.observe(inRotation, node.inRotation ? 1 : 0, attributes);
          if (node.lagMs !== null) result.observe(lag, node.lagMs / 1_000, attributes);
        }
      },
      [reachable, writable, lag, inRotation],
    );
  }

  /**
   * A session read waited on a replica for the session's last write: `reached` (the replica served
   * the read), `timed_out` or `failed` (the read went to the primary instead).
   */
  recordConsistencyWait(outcome: ConsistencyWaitOutcome): void {
    this.consistencyWaits.add(1, WAIT_ATTRIBUTES[outcome]);
  }

  /** A replica left or re-entered rotation, or the primary changed: a metric point and a span event. */
  recordTopologyChange(change: TopologyChange): void {
    const attributes: Attributes = {
      'rwsplit.change': change.kind === 'primary' ? 'primary' : change.inRotation ? 'in' : 'out',
      'rwsplit.node': change.node,
      ...(change.reason === undefined ? {} : { 'rwsplit.reason': change.reason }),
    };
    this.topologyChanges.add(1, attributes);
    // There is no request in flight to attach it to: a short span of its own carries the event.
    const span = this.tracer.startSpan('rwsplit.topology', { kind: SpanKind.INTERNAL, attributes });
    span.addEvent(`rwsplit.topology.${attributes['rwsplit.change']}`, attributes);
    span.end();
  }

  get dbSystem(): DbSystem {
    return this.system;
  }

  /** Called on each new connection until the server flavour is known (unless configured). */
  detectSystem(serverVersion: string | undefined): void {
    if (this.systemFixed || serverVersion === undefined) return;
    const detected: DbSystem = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
    if (detected !== this.system) {
      this.system = detected;
      this.durationAttributes = new Map();
    }
  }

  /** A CLIENT span for one statement; finish it with `endStatement`. */
  startStatement(operation: string, parent: Context | undefined): Span {
    // No SDK registered (yet): the no-op tracer would hand out a fresh non-recording span; one shared
    // span does the same job without the allocation and the context lookup.
    if (this.globalTracerProvider?.getDelegate() === NOOP_TRACER_PROVIDER) return NOT_TRACED;
    return this.tracer.startSpan(operation || this.system, CLIENT, parent);
  }

  endStatement(
    span: Span,
    startedAt: number,
    node: NodePool,
    operation: string,
    sql: string,
    route: Route,
    error: unknown,
  ): void {
    if (span.isRecording()) {
      span.setAttributes(this.nodeAttributes(node));
      span.setAttribute('db.operation.name', operation);
      if (this.queryText) span.setAttribute('db.query.text', sql);
      span.setAttribute('rwsplit.target', route.target);
      span.setAttribute('rwsplit.reason', route.reason);
      if (route.fallback !== undefined) span.setAttribute('rwsplit.fallback', route.fallback);
      if (error !== undefined) this.markError(span, error);
    }
    span.end();
    if (!this.metered) return;
    const seconds = (performance.now() - startedAt) / 1000;
    this.duration.record(seconds, this.metricAttributes(node, operation, error));
    this.countDecision(route);
  }

  /** Records a statement refused before it reached any node (bad hint, session state, closed router). */
  refuseStatement(span: Span, operation: string, sql: string, error: unknown): void {
    if (span.isRecording()) {
      span.setAttribute('db.system.name', this.system);
      span.setAttribute('db.operation.name', operation);
      if (this.queryText) span.setAttribute('db.query.text', sql);
      this.markError(span, error);
    }
    span.end();
  }

  /** Notes on the span that a read failed on `node` and was retried elsewhere. */
  recordRetry(span: Span, node: NodePool, error: unknown): void {
    if (!span.isRecording()) return;
    span.addEvent('rwsplit.retry', { 'rwsplit.node': node.name, 'error.type': errorType(error) });
  }

  /** The parent span of a transaction, and the context its statements' spans hang from. */
  startTransaction(readOnly: boolean): { span: Span; context: Context } {
    const parent = context.active();
    const span = this.tracer.startSpan('transaction', INTERNAL, parent);
    if (span.isRecording()) {
      span.setAttribute('db.system.name', this.system);
      if (this.namespace !== undefined) span.setAttribute('db.namespace', this.namespace);
      span.setAttribute('rwsplit.read_only', readOnly);
    }
    return { span, context: trace.setSpan(parent, span) };
  }

  placeTransaction(span: Span, node: NodePool, route: Route): void {
    if (!span.isRecording()) return;
    span.setAttributes(this.nodeAttributes(node));
    span.setAttribute('rwsplit.target', route.target);
    span.setAttribute('rwsplit.reason', route.reason);
    if (route.fallback !== undefined) span.setAttribute('rwsplit.fallback', route.fallback);
  }

  endTransaction(span: Span, error: unknown): void {
    if (error !== undefined && span.isRecording()) this.markError(span, error);
    span.end();
  }

  /** Stops reporting connection counts (the router is closed). */
  shutdown(): void {
    this.connectionCount.removeCallback(this.observe);
  }

  private markError(span: Span, error: unknown): void {
    const type = errorType(error);
    span.setAttribute('error.type', type);
    const errno = (error as DriverErrorShape | null)?.errno;
    if (typeof errno === 'number' && !(error instanceof RwsplitError)) {
      span.setAttribute('db.response.status_code', String(errno));
    }
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : type });
  }

  private nodeAttributes(node: NodePool): Attributes {
    const attributes: Attributes = {
      'db.system.name': this.system,
      'server.address': node.host,
      'server.port': node.port,
      'rwsplit.node': node.name,
    };
    if (this.namespace !== undefined) attributes['db.namespace'] = this.namespace;
    return attributes;
  }

  private metricAttributes(node: NodePool, operation: string, error: unknown): Attributes {
    if (error !== undefined) {
      return { ...this.nodeMetricAttributes(node, operation), 'error.type': errorType(error) };
    }
    let byOperation = this.durationAttributes.get(node);
    if (byOperation === undefined) {
      byOperation = new Map();
      this.durationAttributes.set(node, byOperation);
    }
    let attributes = byOperation.get(operation);
    if (attributes === undefined) {
      attributes = this.nodeMetricAttributes(node, operation);
      byOperation.set(operation, attributes);
    }
    return attributes;
  }

  private nodeMetricAttributes(node: NodePool, operation: string): Attributes {
    const attributes: Attributes = {
      'db.system.name': this.system,
      'server.address': node.host,
      'server.port': node.port,
    };
    if (operation !== '') attributes['db.operation.name'] = operation;
    if (this.namespace !== undefined) attributes['db.namespace'] = this.namespace;
    return attributes;
  }

  private countDecision(route: Route): void {
    // Routes without a fallback are interned, so the route itself is the key.
    const key = route.fallback === undefined ? route : `${route.target}\0${route.reason}\0${route.fallback}`;
    const counted = this.decisionCounts.get(key);
    if (counted !== undefined) {
      counted.count++;
      return;
    }
    const attributes: Attributes = { 'rwsplit.target': route.target, 'rwsplit.reason': route.reason };
    if (route.fallback !== undefined) attributes['rwsplit.fallback'] = route.fallback;
    this.decisionCounts.set(key, { count: 1, attributes });
  }

  private observeConnections(result: ObservableResult): void {
    for (const node of this.nodes) {
      const { idle, used } = node.stats();
      result.observe(idle, {
        'db.client.connection.state': 'idle',
        'db.client.connection.pool.name': node.name,
      });
      result.observe(used, {
        'db.client.connection.state': 'used',
        'db.client.connection.pool.name': node.name,
      });
    }
  }
}
