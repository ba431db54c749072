import { connect } from 'node:tls';

/** What came back on a connection the test drove byte by byte. */
export interface RawAnswer {
  readonly status: number | undefined;
  /** The whole answer as text, headers and body. */
  readonly text: string;
  readonly body: string;
  /** From the connection's start to the server closing it (or the test giving up). */
  readonly elapsedMs: number;
  /** The server closed the connection (rather than the test giving up at `giveUpMs`). */
  readonly closedByServer: boolean;
}

export interface TrickleOptions {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  /** Request line and headers, without the blank line that ends them. */
  readonly head: string;
  readonly body: Buffer;
  /** Bytes of the body sent at once before the trickle. Default 0. */
  readonly upfront?: number;
  /** One more byte every this many ms; `undefined`: send nothing more after `upfront` (a stalled client). */
  readonly everyMs?: number;
  /** The test stops waiting after this. Default 30 000 ms. */
  readonly giveUpMs?: number;
}

/**
 * A slow client over TLS: the headers at once, then the body a byte at a time (or not at all), until the
 * server answers and closes. The way a slowloris-style client holds a server's connection.
 */
export function trickle(options: TrickleOptions): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({
      host: options.host,
      port: options.port,
      ca: options.ca,
      ALPNProtocols: ['http/1.1'],
    });
    let text = '';
    let sent = options.upfront ?? 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      const split = text.indexOf('\r\n\r\n');
      resolve({
        status: status === undefined ? undefined : Number(status),
        text,
        body: split < 0 ? '' : text.slice(split + 4),
        elapsedMs: Date.now() - started,
        closedByServer,
      });
    };
    const giveUp = setTimeout(() => finish(false), options.giveUpMs ?? 30_000);
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => {
      socket.write(`${options.head}\r\n\r\n`);
      if (sent > 0) socket.write(options.body.subarray(0, sent));
      if (options.everyMs === undefined) return;
      timer = setInterval(() => {
        if (sent >= options.body.length || socket.destroyed) return clearInterval(timer);
        socket.write(options.body.subarray(sent, sent + 1));
        sent += 1;
      }, options.everyMs);
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    // A reset after the answer is still the server hanging up.
    socket.on('error', (error) => (text === '' && !settled ? reject(error) : finish(true)));
    socket.on('close', () => finish(true));
  });
}
