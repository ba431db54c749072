import { request } from 'node:http';

/**
 * Whether a Docker engine answers `GET /_ping` on this unix socket within `timeoutMs`. Unversioned on
 * purpose: every engine serves `/_ping`, whatever API versions it accepts. Never throws.
 */
export function pingEngine(socketPath: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, method: 'GET', path: '/_ping' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The socket path of a `unix://` DOCKER_HOST (`unix:///run/x.sock` → `/run/x.sock`), else undefined. */
export function socketPathOf(dockerHost: string): string | undefined {
  const match = /^unix:\/\/(\/.+)$/.exec(dockerHost.trim());
  return match?.[1];
}
