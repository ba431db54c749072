import { ManagedProcess } from '../managed-process.js';
import type { ProcessRuntime } from './supervised-process.js';

/** Child processes of this Node process, each leading its own process group (see `ManagedProcess`). */
export const NATIVE_RUNTIME: ProcessRuntime = {
  kind: 'native',
  process: (spec) => new ManagedProcess(spec),
  close: async () => {},
};
