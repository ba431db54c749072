import { connect } from 'node:net';

/** What a raw socket client saw: the bytes the server sent, and whether and when the server closed. */
export interface RawExchange {
  readonly response: string;
  /** The server ended or reset the connection before `giveUpMs`. */
  readonly closed: boolean;
  /** From connecting to the close (or to giving up). */
  readonly elapsedMs: number;
  /** Body bytes written before the close. */
  readonly bodyBytesSent: number;
}

export interface TrickleOptions {
  readonly port: number;
  /** The request line and headers, without the blank line that ends them. */
  readonly head: string;
  readonly body: Buffer;
  /** Bytes per write, one write every `intervalMs`. */
  readonly chunkBytes?: number;
  readonly intervalMs: number;
  /** Stop waiting for the server to close after this long. Default: 5000 ms. */
  readonly giveUpMs?: number;
}

/**
 * Sends the head at once, then the body `chunkBytes` at a time every `intervalMs`, the way a slowloris
 * client does; keeps going until the body is sent, and waits for the server to close the connection.
 */
export function trickle(options: TrickleOptions): Promise<RawExchange> {
  const { port, head, body, intervalMs } = options;
  const chunkBytes = options.chunkBytes ?? 1;
  const giveUpMs = options.giveUpMs ?? 5_000;
  return new Promise((resolve) => {
    const started = performance.now();
    const received: Buffer[] = [];
    let sent = 0;
    let closed = false;
    let done = false;
    const socket = connect(port, '127.0.0.1');
    const writer = setInterval(() => {
      if (sent >= body.length || socket.destroyed) return;
      socket.write(body.subarray(sent, sent + chunkBytes));
      sent = Math.min(body.length, sent + chunkBytes);
    }, intervalMs);
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(writer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({
        response: Buffer.concat(received).toString('latin1'),
        closed,
        elapsedMs: performance.now() - started,
        bodyBytesSent: sent,
      });
    };
    const giveUp = setTimeout(finish, giveUpMs);
    socket.on('connect', () => socket.write(`${head}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // A write after the server closed fails with EPIPE or ECONNRESET: that is the close we wait for.
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** The status, headers (lower-cased names) and body of the first response in `raw`. */
export function parseResponse(raw: string): {
  status: number;
  headers: Record<string, string>;
  body: string;
} {
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = raw.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(split + 4) };
}
