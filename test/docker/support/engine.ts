// The docker suites' view of the engine: the containers a cluster owns, read through the runtime's own
// engine client over its socket (the runtime's labels say whose each one is).
import { DockerApi } from '../../../packages/cluster/src/runtime/docker-api.js';

export interface ContainerView {
  /** The harness's name for the program (`db-primary`, `server-1 app`). */
  readonly service: string;
  readonly state: string;
  readonly networkMode: string;
}

/** Every container (running or not) labelled as this cluster's. */
export async function clusterContainers(socketPath: string, block: string): Promise<ContainerView[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`io.rwsplit.cluster=${block}`] }));
  const all = await new DockerApi(socketPath).call<
    { Labels: Record<string, string>; State: string; HostConfig: { NetworkMode: string } }[]
  >('GET', `/containers/json?all=1&filters=${filters}`);
  return all.map((each) => ({
    service: each.Labels['io.rwsplit.service'] ?? '?',
    state: each.State,
    networkMode: each.HostConfig.NetworkMode,
  }));
}
