import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

/**
 * A TypeScript script from this folder in its own Node process (workspace packages from source, as in
 * production with a build), talking JSON, one object per line: the first line it prints means "ready";
 * every later line goes to `onMessage`. Closing its stdin asks it to shut down.
 */
export class JsonLinesChild<Message> {
  private stderr = '';
  private exitReason: string | undefined;
  private readonly child: ChildProcess;
  private handler: (message: Message) => void = () => {};
  private exitHandler: (reason: string) => void = () => {};
  /** The first line the script printed. */
  readonly ready: Promise<Message>;

  constructor(script: string, env: Record<string, string>) {
    this.child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4_000);
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script} did not start within ${START_TIMEOUT_MS} ms: ${this.stderr}`)),
        START_TIMEOUT_MS,
      );
      let started = false;
      this.child.once('error', reject);
      this.child.once('exit', (code, signal) => {
        this.exitReason = `${script} exited (code ${code}, signal ${signal}): ${this.stderr}`;
        clearTimeout(timer);
        reject(new Error(this.exitReason));
        this.exitHandler(this.exitReason);
      });
      createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        const message = JSON.parse(line) as Message;
        if (started) {
          this.handler(message);
          return;
        }
        started = true;
        clearTimeout(timer);
        resolve(message);
      });
    });
    // A failed start is reported by whoever awaits `ready`; do not let it go unhandled meanwhile.
    this.ready.catch(() => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why the process is gone, once it is. */
  get exited(): string | undefined {
    return this.exitReason;
  }

  onMessage(handler: (message: Message) => void): void {
    this.handler = handler;
  }

  onExit(handler: (reason: string) => void): void {
    this.exitHandler = handler;
  }

  send(message: unknown): void {
    this.child.stdin?.write(`${JSON.stringify(message)}\n`);
  }

  /** Closes stdin so the script shuts down; after 5 s, SIGKILL by PID. */
  async stop(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = once(child, 'exit').catch(() => {});
    child.stdin?.end();
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
