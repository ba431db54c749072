import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A manager API's answer: its status and its JSON body (undefined when the body is not JSON). */
export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface ApiCall {
  readonly method?: 'GET' | 'POST';
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  readonly body?: unknown;
  /**
   * The CA (PEM) an `https:` manager's certificate must chain to; its address or name must be in the
   * certificate too (Node checks it against the URL's host). Undefined: the system's CAs.
   */
  readonly ca?: string | undefined;
  readonly timeoutMs: number;
}

/**
 * One call to a manager's API, over HTTP or HTTPS as its URL says. Node's `fetch` cannot be given a CA of
 * our own, and managers present certificates from the cluster's CA, so this uses `node:https` directly.
 */
export function callApi(url: string, call: ApiCall): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('https:');
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    const options = {
      method: call.method ?? (payload === undefined ? 'GET' : 'POST'),
      headers: {
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...(call.token === undefined ? {} : { authorization: `Bearer ${call.token}` }),
      },
      timeout: call.timeoutMs,
      agent: false as const,
      ...(secure && call.ca !== undefined ? { ca: call.ca } : {}),
    };
    const onResponse = (response: IncomingMessage) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
      response.on('error', reject);
    };
    const req = secure ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${call.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
