import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ClusterError } from './errors.js';
import { waitFor } from './wait.js';

/** One alert as Alertmanager's webhook delivered it. */
export interface AlertNotification {
  readonly status: 'firing' | 'resolved';
  readonly alertname: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  /** When the receiver got it (ms since the epoch). */
  readonly receivedAt: number;
}

interface WebhookBody {
  readonly alerts?: readonly {
    readonly status?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly startsAt?: string;
  }[];
}

/**
 * The harness's alert receiver: what Alertmanager's webhook would page someone with, recorded so tests
 * (and the dashboard) can see which alerts reached a person and when. `POST /alerts` takes Alertmanager's
 * webhook payload; `GET /alerts` answers the alerts firing now and everything received.
 */
export class AlertReceiver {
  private readonly received: AlertNotification[] = [];
  private server: Server | undefined;

  /** `port` 0: any free port, known once started. */
  constructor(
    readonly host: string,
    private port: number,
  ) {}

  get url(): string {
    return `http://${this.host}:${this.port}/alerts`;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      void this.handle(request).then(
        (status) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(status === 200 && request.method === 'GET' ? JSON.stringify(this.view()) : '{}');
        },
        () => {
          response.writeHead(400, { 'content-type': 'application/json' });
          response.end('{"error":"not an Alertmanager webhook payload"}');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    const address = server.address();
    if (typeof address === 'object' && address !== null) this.port = address.port;
    this.server = server;
  }

  /** Every notification, in the order received. */
  notifications(): readonly AlertNotification[] {
    return [...this.received];
  }

  /** The alerts whose latest notification says firing (one per alert name and label set). */
  firing(): AlertNotification[] {
    const latest = new Map<string, AlertNotification>();
    for (const alert of this.received) latest.set(identity(alert.labels), alert);
    return [...latest.values()].filter((alert) => alert.status === 'firing');
  }

  /** Waits until a notification matching `match` arrives (one received earlier counts). */
  waitFor(
    match: (alert: AlertNotification) => boolean,
    options: { readonly what: string; readonly timeoutMs: number },
  ): Promise<AlertNotification> {
    return waitFor(async () => this.received.find(match), {
      what: options.what,
      timeoutMs: options.timeoutMs,
      intervalMs: 100,
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private view(): { firing: AlertNotification[]; received: readonly AlertNotification[] } {
    return { firing: this.firing(), received: this.received };
  }

  private async handle(request: IncomingMessage): Promise<number> {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/alerts') return 404;
    if (request.method === 'GET') return 200;
    if (request.method !== 'POST') return 405;
    let text = '';
    for await (const chunk of request) {
      text += String(chunk);
      if (text.length > 1_000_000) throw new ClusterError('webhook body too large', 'CLUSTER_COMMAND_FAILED');
    }
    const body = JSON.parse(text) as WebhookBody;
    const receivedAt = Date.now();
    for (const alert of body.alerts ?? []) {
      const labels = alert.labels ?? {};
      this.received.push({
        status: alert.status === 'resolved' ? 'resolved' : 'firing',
        alertname: labels.alertname ?? '',
        labels,
        annotations: alert.annotations ?? {},
        startsAt: alert.startsAt ?? '',
        receivedAt,
      });
    }
    return 200;
  }
}

function identity(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
