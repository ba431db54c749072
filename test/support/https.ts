import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** PEM to trust (the cluster CA that issued the LB's certificate). */
  readonly ca?: string;
  readonly timeoutMs?: number;
  /** Basic auth as `user:password`. */
  readonly auth?: string;
}

/** One request on a fresh connection (no keep-alive, so each request is balanced on its own). */
export function fetchText(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const isHttps = url.startsWith('https:');
  const send = isHttps ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        timeout: options.timeoutMs ?? 5_000,
        ...(options.auth ? { auth: options.auth } : {}),
        ...(isHttps ? { ca: options.ca } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
