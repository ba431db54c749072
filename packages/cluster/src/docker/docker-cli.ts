import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { tailFile } from '../managed-process.js';
import type { DockerEngine } from './engine.js';
import { IMAGE_BUILD_FAILED } from './error-codes.js';

/**
 * The environment for the docker CLI against `engine`. DOCKER_BUILDKIT=0: with a docker 23+ client
 * BuildKit means the buildx plugin, which Debian's docker.io does not ship (and nothing may be fetched
 * here); the classic builder is in every engine and honours `--network host`. A newer client than the
 * engine negotiates the API down (docker 28 against 20.10 speaks 1.41).
 */
export function dockerEnv(engine: DockerEngine): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: engine.dockerHost, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' };
}

export interface LoggedRunOptions {
  /** Output (stdout and stderr) is appended here; its tail goes into the error. */
  readonly logFile: string;
  /** What is being done, for the error: "docker build of rwsplit/nginx:0a1b". */
  readonly what: string;
  /** Appended to the error message: what to do about it. */
  readonly advice: string;
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Piped to the command's stdin (a tar stream for `docker import -`). */
  readonly stdin?: Readable;
}

/** Runs a long command (a build) with its output in a log file; a typed error with the log's tail. */
export async function runLogged(
  command: string,
  args: readonly string[],
  options: LoggedRunOptions,
): Promise<void> {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, 'a');
  let status: string | undefined;
  try {
    const child = spawn(command, args, {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', log, log],
      env: options.env ?? process.env,
    });
    if (options.stdin !== undefined && child.stdin !== null) {
      // A consumer that fails early closes its stdin; the error that causes is the consumer's to report.
      child.stdin.on('error', () => {});
      options.stdin.pipe(child.stdin);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    try {
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      if (code !== 0) status = signal === null ? `exit code ${code}` : `signal ${signal}`;
      if (signal === 'SIGKILL') status = `killed after ${options.timeoutMs} ms`;
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    status = error instanceof Error ? error.message : String(error);
  } finally {
    closeSync(log);
  }
  if (status !== undefined) {
    throw new ClusterError(
      `${options.what} failed (${status}); last lines of ${options.logFile}:\n${tailFile(options.logFile, 30)}\n${options.advice}`,
      IMAGE_BUILD_FAILED,
    );
  }
}

/** The docker CLI's path (a newer client beside docker.io's own is preferred by PATH order). */
export function dockerBinary(): string {
  return findBinary('docker');
}
