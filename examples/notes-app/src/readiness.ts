import type { NodeStatus } from '@rwsplit/router';

/** Whether this server should get traffic: HAProxy polls `/readyz` and stops sending when it says no. */
export class Readiness {
  #draining = false;

  /** Called on SIGTERM: from now on `/readyz` answers 503 so the load balancer drains this server. */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Ready when not draining and the router's monitor reaches the primary or a replica. */
  check(topology: readonly NodeStatus[]): { ready: boolean; reason: string } {
    if (this.#draining) return { ready: false, reason: 'draining' };
    if (!topology.some((node) => node.reachable))
      return { ready: false, reason: 'no database node reachable' };
    return { ready: true, reason: 'ok' };
  }
}
