import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Histogram } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** Seconds; the OpenTelemetry HTTP semantic conventions' advice, which latency alerts read as quantiles. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * The app's OpenTelemetry metrics: one MeterProvider for the router's instruments, read by the
 * Prometheus exporter. The exporter runs no server of its own: the app serves `/metrics` on its
 * internal address (Nginx refuses the path, so it never leaves the server through HAProxy), and the
 * dashboard reads the same cumulative numbers through `collect()`.
 */
export class AppMetrics {
  readonly meterProvider: MeterProvider;
  readonly #exporter: PrometheusExporter;
  readonly #requests: Histogram;
  /** One attribute set per method and status, made once (nothing allocated per request). */
  readonly #attributes = new Map<string, Attributes>();

  constructor() {
    this.#exporter = new PrometheusExporter({ preventServerStart: true });
    this.meterProvider = new MeterProvider({ readers: [this.#exporter] });
    this.#requests = this.meterProvider
      .getMeter('notes-app')
      .createHistogram('http.server.request.duration', {
        description: 'Duration of HTTP requests the app answered.',
        unit: 's',
        advice: { explicitBucketBoundaries: REQUEST_BUCKETS },
      });
  }

  /** `http.server.request.duration` for one answered request. */
  readonly recordRequest = (method: string, status: number, ms: number): void => {
    const key = `${method} ${status}`;
    let attributes = this.#attributes.get(key);
    if (attributes === undefined) {
      attributes = { 'http.request.method': method, 'http.response.status_code': status };
      // Methods come from clients: an unbounded set of keys is a memory leak, so others share one.
      if (this.#attributes.size < 256) this.#attributes.set(key, attributes);
    }
    this.#requests.record(ms / 1_000, attributes);
  };

  /** Answers a Prometheus scrape (text exposition format). */
  serve(request: IncomingMessage, response: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(request, response);
  }

  /** Every instrument's current (cumulative) value. */
  async collect(): Promise<ResourceMetrics> {
    const { resourceMetrics } = await this.#exporter.collect();
    return resourceMetrics;
  }

  shutdown(): Promise<void> {
    return this.meterProvider.shutdown();
  }
}
