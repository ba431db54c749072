import { HttpError } from '../errors.js';

/** One alert that is firing now, as the dashboard's alerts panel shows it. */
export interface FiringAlert {
  readonly name: string;
  /** `critical`, `warning`, `info`, or whatever the rule's `severity` label says; `none` without one. */
  readonly severity: string;
  /** The rule's `summary` annotation; the alert name when it has none. */
  readonly summary: string;
  /** The rule's `description` annotation, if any. */
  readonly description: string | undefined;
  /** When it started firing (ISO time, Alertmanager's `startsAt`). */
  readonly since: string;
  /** Its other labels (instance, server, node...), to tell one firing of a rule from another. */
  readonly labels: Readonly<Record<string, string>>;
}

/** What `GET /internal/alerts` answers. */
export interface FiringAlertsView {
  /** The Alertmanager asked; null when the app was given none (`ALERTMANAGER_URL` unset). */
  readonly source: string | null;
  /** Most severe first, then the oldest first. */
  readonly alerts: readonly FiringAlert[];
}

/** Alertmanager did not answer, or answered something that is not its alert list: a 502 for the panel. */
export class AlertSourceError extends HttpError {
  override name = 'AlertSourceError';
  constructor(message: string, options?: ErrorOptions) {
    super(502, 'alerts_unavailable', `${message}; the firing alerts cannot be shown`, undefined, options);
  }
}

export interface AlertFeedOptions {
  /** Alertmanager's base URL (`http://host:9093`); undefined: the app has none and shows no alerts. */
  readonly url: string | undefined;
  /** Longest wait for Alertmanager's answer. Default 2 000 ms. */
  readonly timeoutMs?: number;
  /** How long one answer is reused: every open dashboard polls, Alertmanager is asked once per this. Default 1 000 ms. */
  readonly maxAgeMs?: number;
  /** Basic auth for Alertmanager's API, when it wants it. */
  readonly auth?: { readonly user: string; readonly password: string } | undefined;
}

const SEVERITY_ORDER: Readonly<Record<string, number>> = { critical: 0, warning: 1, info: 2 };

/** Alertmanager's v2 alert, the fields read here. */
interface GettableAlert {
  readonly labels?: Record<string, unknown>;
  readonly annotations?: Record<string, unknown>;
  readonly startsAt?: unknown;
  readonly status?: { readonly state?: unknown };
}

function strings(record: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record ?? {})) if (typeof value === 'string') out[key] = value;
  return out;
}

/** Alertmanager's `/api/v2/alerts` body as the panel's alerts; throws for anything that is not one. */
export function firingAlertsFrom(body: unknown): FiringAlert[] {
  if (!Array.isArray(body))
    throw new AlertSourceError('Alertmanager answered something that is not an alert list');
  const alerts: FiringAlert[] = [];
  for (const item of body as GettableAlert[]) {
    // The query asks for active ones only; a suppressed alert that slips through still is not firing.
    if (item.status?.state !== undefined && item.status.state !== 'active') continue;
    const { alertname, severity, ...labels } = strings(item.labels);
    if (alertname === undefined) continue;
    const annotations = strings(item.annotations);
    alerts.push({
      name: alertname,
      severity: severity ?? 'none',
      summary: annotations.summary ?? alertname,
      description: annotations.description,
      since: typeof item.startsAt === 'string' ? item.startsAt : '',
      labels,
    });
  }
  const rank = (alert: FiringAlert) => SEVERITY_ORDER[alert.severity] ?? 3;
  return alerts.sort(
    (a, b) => rank(a) - rank(b) || a.since.localeCompare(b.since) || a.name.localeCompare(b.name),
  );
}

/**
 * The alerts firing now, from Alertmanager (what pages people, after grouping, silences and
 * inhibitions), not from Prometheus's raw rule states. One request at a time, its answer reused for
 * `maxAgeMs`, so any number of dashboards cost Alertmanager one query a second.
 */
export class AlertFeed {
  readonly #url: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number;
  /** The last answer or failure, and when it came: a failure is reused too, so a dead Alertmanager is not asked per poll. */
  #cached: { readonly at: number; readonly answer: Promise<FiringAlertsView> } | undefined;
  #inFlight: Promise<FiringAlertsView> | undefined;

  readonly #headers: Record<string, string>;

  constructor({ url, timeoutMs = 2_000, maxAgeMs = 1_000, auth }: AlertFeedOptions) {
    this.#url = url?.replace(/\/+$/, '');
    this.#headers = { accept: 'application/json' };
    if (auth !== undefined) {
      this.#headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    }
    this.#timeoutMs = timeoutMs;
    this.#maxAgeMs = maxAgeMs;
  }

  async current(now = Date.now()): Promise<FiringAlertsView> {
    const url = this.#url;
    if (url === undefined) return { source: null, alerts: [] };
    const cached = this.#cached;
    if (cached !== undefined && now - cached.at < this.#maxAgeMs) return cached.answer;
    if (this.#inFlight === undefined) {
      const answer = this.#fetch(url);
      this.#inFlight = answer;
      const settled = () => {
        this.#cached = { at: Date.now(), answer };
        this.#inFlight = undefined;
      };
      answer.then(settled, settled);
    }
    return this.#inFlight;
  }

  async #fetch(url: string): Promise<FiringAlertsView> {
    let body: unknown;
    try {
      const response = await fetch(`${url}/api/v2/alerts?active=true&silenced=false&inhibited=false`, {
        headers: this.#headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (!response.ok) throw new AlertSourceError(`Alertmanager answered HTTP ${response.status}`);
      body = await response.json();
    } catch (error) {
      if (error instanceof AlertSourceError) throw error;
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new AlertSourceError(
        timedOut
          ? `Alertmanager did not answer within ${this.#timeoutMs} ms`
          : 'Alertmanager could not be reached or sent no JSON',
        { cause: error },
      );
    }
    return { source: url, alerts: firingAlertsFrom(body) };
  }
}
