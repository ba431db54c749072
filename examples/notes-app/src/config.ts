import { z } from 'zod';
import { DEFAULT_REQUEST_BODY_TIMEOUT_MS, MAX_REQUEST_BODY_TIMEOUT_MS } from './request-deadline.js';

/** A `host:port` address as @rwsplit/cluster passes it (DB_PRIMARY, each entry of DB_REPLICAS). */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** Everything the app reads from its environment, validated once at start. */
export interface AppConfig {
  readonly host: string;
  readonly port: number;
  /** Name of this app server (`server-1`), logged with every line. */
  readonly serverName: string;
  readonly primary: Address;
  readonly replicas: readonly Address[];
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly monitorUser: string;
  readonly monitorPassword: string;
  /**
   * TLS to the database, verified against this CA certificate (PEM file, `DB_SSL_CA_FILE`): the
   * certificate must chain to it and name the node's address. Undefined: plain connections.
   */
  readonly sslCaFile: string | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Replicas lagging more than this leave rotation (`DB_LAG_MAX_MS`). Default: the router's (1000 ms). */
  readonly lagMaxMs: number | undefined;
  /**
   * Longest time from a request's arrival to the last byte of its body, in ms (`REQUEST_BODY_TIMEOUT_MS`);
   * a slower body gets 408 and its connection closed. Default: 10 000 ms.
   */
  readonly requestBodyTimeoutMs: number;
  /**
   * Alertmanager's base URL (`ALERTMANAGER_URL`, http or https): the dashboard's alerts panel shows what
   * it has firing, on the app's internal address only. Undefined: no panel data.
   */
  readonly alertmanagerUrl: string | undefined;
  /** Basic auth for Alertmanager's API (`ALERTMANAGER_USER`, `ALERTMANAGER_PASSWORD`); undefined: none. */
  readonly alertmanagerAuth: { readonly user: string; readonly password: string } | undefined;
}

const address = z.string().transform((value, ctx): Address => {
  const match = /^(.+):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match?.[1] || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected host:port, got "${value}"` });
    return z.NEVER;
  }
  return { host: match[1], port };
});

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  SERVER_NAME: z.string().min(1).default('server-1'),
  DB_PRIMARY: z.string().default('127.0.0.1:3306').pipe(address),
  DB_REPLICAS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(address)),
  DB_NAME: z.string().min(1).default('notes'),
  DB_USER: z.string().min(1).default('app'),
  DB_PASSWORD: z.string().default(''),
  DB_MONITOR_USER: z.string().optional(),
  DB_MONITOR_PASSWORD: z.string().optional(),
  DB_LAG_MAX_MS: z.coerce.number().int().min(0).optional(),
  DB_SSL_CA_FILE: z.string().optional(),
  REQUEST_BODY_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_REQUEST_BODY_TIMEOUT_MS)
    .default(DEFAULT_REQUEST_BODY_TIMEOUT_MS),
  ALERTMANAGER_URL: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  ALERTMANAGER_USER: z.string().optional(),
  ALERTMANAGER_PASSWORD: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Thrown when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment. Unset variables take their defaults; empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(env)'}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid environment:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  return {
    host: e.HOST,
    port: e.PORT,
    serverName: e.SERVER_NAME,
    primary: e.DB_PRIMARY,
    replicas: e.DB_REPLICAS,
    database: e.DB_NAME,
    user: e.DB_USER,
    password: e.DB_PASSWORD,
    monitorUser: e.DB_MONITOR_USER ?? e.DB_USER,
    monitorPassword: e.DB_MONITOR_PASSWORD ?? e.DB_PASSWORD,
    sslCaFile: e.DB_SSL_CA_FILE,
    logLevel: e.LOG_LEVEL,
    lagMaxMs: e.DB_LAG_MAX_MS,
    requestBodyTimeoutMs: e.REQUEST_BODY_TIMEOUT_MS,
    alertmanagerUrl: e.ALERTMANAGER_URL,
    alertmanagerAuth:
      e.ALERTMANAGER_USER === undefined
        ? undefined
        : { user: e.ALERTMANAGER_USER, password: e.ALERTMANAGER_PASSWORD ?? '' },
  };
}
