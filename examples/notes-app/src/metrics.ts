import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * The app's OpenTelemetry metrics: one MeterProvider for the router's instruments, read by the
 * Prometheus exporter. The exporter runs no server of its own: the app serves `/metrics` on its
 * internal address (Nginx refuses the path, so it never leaves the server through HAProxy), and the
 * dashboard reads the same cumulative numbers through `collect()`.
 */
export class AppMetrics {
  readonly meterProvider: MeterProvider;
  readonly #exporter: PrometheusExporter;

  constructor() {
    this.#exporter = new PrometheusExporter({ preventServerStart: true });
    this.meterProvider = new MeterProvider({ readers: [this.#exporter] });
  }

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
