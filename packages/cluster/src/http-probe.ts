import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * Status of a GET, or undefined if nothing answered within the timeout. An `https:` URL is checked
 * against `ca` (the cluster CA), never accepted unverified.
 */
export function httpStatus(url: string, timeoutMs = 1_000, ca?: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const secure = url.startsWith('https:');
    const options = {
      timeout: timeoutMs,
      agent: false as const,
      ...(secure && ca !== undefined ? { ca } : {}),
    };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      res.resume();
      resolve(res.statusCode);
    };
    const req = secure ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
