import { type ApiAnswer, type ApiCall, callApi } from '@rwsplit/failover';
import { runCommand } from './managed-process.js';
import { NATIVE_RUNTIME } from './runtime/native-runtime.js';
import type { ProcessRuntime, RuntimeProcessSpec, SupervisedProcess } from './runtime/supervised-process.js';

/** A program and its arguments, ready to spawn. */
export interface CommandLine {
  readonly command: string;
  readonly args: readonly string[];
}

/** How to start a program on one host: as it is on loopback, inside the host's namespace on netns. */
export type Launcher = (command: string, args: readonly string[]) => CommandLine;

/** The launcher of a host that is this machine's own network stack. */
export const HERE: Launcher = (command, args) => ({ command, args });

/**
 * An HTTP(S) request the harness makes from a host (its probes, API calls): the managers' API call, whose
 * `ca` an `https:` URL must chain to (never accepted unverified). Its answer: status and JSON body.
 */
export type HostRequest = ApiCall;
export type HostAnswer = ApiAnswer;

/** Makes a request from a host: from here on loopback; from inside its namespace on netns. */
export type HostClient = (url: string, request: HostRequest) => Promise<HostAnswer>;

/** The client of a host that is this machine's own network stack. */
export const FROM_HERE: HostClient = (url, request) => callApi(url, request);

/** What the harness needs to act on one host. */
export interface HostAccess {
  readonly launch: Launcher;
  readonly request: HostClient;
  /** How the host's long-running programs run: child processes (default) or containers. */
  readonly runtime?: ProcessRuntime;
}

/** A long-running program on the host, by the host's runtime. */
export function superviseOn(access: HostAccess, spec: RuntimeProcessSpec): SupervisedProcess {
  return (access.runtime ?? NATIVE_RUNTIME).process(spec);
}

/** This machine's own network stack, for the loopback model. */
export const LOCAL_ACCESS: HostAccess = { launch: HERE, request: FROM_HERE };

/** Status of a GET from the host, or undefined if nothing answered within the timeout. */
export function statusFrom(
  access: HostAccess,
  url: string,
  timeoutMs = 1_000,
  ca?: string,
): Promise<number | undefined> {
  return access.request(url, { timeoutMs, ca }).then(
    (answer) => answer.status,
    () => undefined,
  );
}

/** Runs a program on the host to its end and returns its output (throws with the output if it fails). */
export function runOn(
  access: HostAccess,
  command: string,
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<string> {
  const line = access.launch(command, args);
  return runCommand(line.command, line.args, { timeoutMs });
}
