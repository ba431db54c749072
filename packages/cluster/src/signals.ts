/** Anything that can be stopped when the process is told to end. */
interface Stoppable {
  stop(): Promise<void>;
}

const running = new Set<Stoppable>();
let installed = false;

/**
 * On SIGINT/SIGTERM, stop every running cluster (so Nginx workers and HAProxy are reaped too, not just
 * the processes the kernel's parent-death signal reaches), then end the process the way the signal
 * would have.
 */
function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      const all = [...running].map((cluster) => cluster.stop().catch(() => {}));
      void Promise.all(all).finally(() => process.kill(process.pid, signal));
    });
  }
}

export function trackCluster(cluster: Stoppable): void {
  installSignalHandlers();
  running.add(cluster);
}

export function forgetCluster(cluster: Stoppable): void {
  running.delete(cluster);
}
