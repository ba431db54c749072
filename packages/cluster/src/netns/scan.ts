import { connect } from 'node:net';
import type { NetnsLab } from './lab.js';

/** What a TCP connect to a port found: a listener, a refusal (RST), or silence until the timeout (a drop). */
export type PortState = 'open' | 'refused' | 'dropped';

export interface ScanTarget {
  readonly host: string;
  readonly port: number;
}

/** One connect per target, all at once; `timeoutMs` is how long silence counts as a drop. */
export function scanFromHere(targets: readonly ScanTarget[], timeoutMs = 500): Promise<PortState[]> {
  return Promise.all(
    targets.map(
      (target) =>
        new Promise<PortState>((resolve) => {
          const socket = connect({ host: target.host, port: target.port });
          const done = (state: PortState) => {
            socket.destroy();
            resolve(state);
          };
          socket.setTimeout(timeoutMs, () => done('dropped'));
          socket.once('connect', () => done('open'));
          socket.once('error', (error: NodeJS.ErrnoException) =>
            done(error.code === 'ECONNREFUSED' ? 'refused' : 'dropped'),
          );
        }),
    ),
  );
}

// The same scan as a script for `node -e`, so it runs inside a host's namespace.
const SCRIPT = `
const { connect } = require('node:net');
const [targets, timeoutMs] = JSON.parse(process.argv[1]);
Promise.all(targets.map((t) => new Promise((resolve) => {
  const socket = connect({ host: t.host, port: t.port });
  const done = (state) => { socket.destroy(); resolve(state); };
  socket.setTimeout(timeoutMs, () => done('dropped'));
  socket.once('connect', () => done('open'));
  socket.once('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'dropped'));
}))).then((states) => process.stdout.write(JSON.stringify(states)));
`;

/** The scan run from inside `host`'s namespace. */
export async function scanFrom(
  lab: NetnsLab,
  host: string,
  targets: readonly ScanTarget[],
  timeoutMs = 500,
): Promise<PortState[]> {
  const output = await lab.run(host, process.execPath, ['-e', SCRIPT, JSON.stringify([targets, timeoutMs])]);
  return JSON.parse(output) as PortState[];
}
