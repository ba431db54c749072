import { request } from 'node:http';
import { ClusterError } from '../errors.js';

/**
 * Paths carry no API version: an engine answers an unversioned call in its own (newest) version, so
 * a 20.10 engine and one that refuses old versions (Engine 29 wants 1.44+) both work.
 *
 * The few Docker Engine API calls the docker runtime makes itself (wait, pause, kill, inspect, list,
 * remove), over the engine's unix socket. testcontainers creates and starts containers; these are the
 * operations it has no call for (a blocking wait for exit, the freezer) or that must work after its
 * client is gone (reaping leftovers).
 */
export class DockerApi {
  constructor(private readonly socketPath: string) {}

  /** The JSON body of a successful call; a typed error naming the call and the engine's message otherwise. */
  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, timeoutMs = 30_000): Promise<T> {
    const { status, body } = await this.raw(method, path, timeoutMs);
    if (status >= 400) {
      const message = parseMessage(body);
      throw new DockerApiError(`${method} ${path}: engine answered ${status}: ${message}`, status);
    }
    return (body.length === 0 ? undefined : JSON.parse(body)) as T;
  }

  /** Blocks until the container has exited; its exit code. No timeout: a paused container waits. */
  async wait(id: string): Promise<number> {
    const answer = await this.call<{ StatusCode: number }>('POST', `/containers/${id}/wait`, 0);
    return answer.StatusCode;
  }

  private raw(method: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(
            new ClusterError(
              `docker engine: ${method} ${path} took over ${timeoutMs} ms`,
              'CLUSTER_COMMAND_FAILED',
            ),
          ),
        );
      }
      req.on('error', (error) =>
        reject(
          error instanceof ClusterError
            ? error
            : new ClusterError(
                `docker engine at ${this.socketPath} did not answer ${method} ${path}: ${error.message}`,
                'CLUSTER_COMMAND_FAILED',
                { cause: error },
              ),
        ),
      );
      req.end();
    });
  }
}

/** An engine's refusal, with its HTTP status (404: no such container; 409: not running / already paused). */
export class DockerApiError extends ClusterError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message, 'CLUSTER_COMMAND_FAILED');
  }
}

function parseMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}
