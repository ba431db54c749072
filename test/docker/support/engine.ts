// The docker suites' view of the engine: the containers a cluster owns, read from the engine's API over its
// socket (the runtime's labels say whose each one is).
import { request } from 'node:http';

export interface ContainerView {
  /** The harness's name for the program (`db-primary`, `server-1 app`). */
  readonly service: string;
  readonly state: string;
  readonly networkMode: string;
}

function get<T>(socketPath: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        (res.statusCode ?? 500) < 400 ? resolve(JSON.parse(body) as T) : reject(new Error(body)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every container (running or not) labelled as this cluster's. */
export async function clusterContainers(socketPath: string, block: string): Promise<ContainerView[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`io.rwsplit.cluster=${block}`] }));
  const all = await get<
    { Labels: Record<string, string>; State: string; HostConfig: { NetworkMode: string } }[]
  >(socketPath, `/containers/json?all=1&filters=${filters}`);
  return all.map((each) => ({
    service: each.Labels['io.rwsplit.service'] ?? '?',
    state: each.State,
    networkMode: each.HostConfig.NetworkMode,
  }));
}
