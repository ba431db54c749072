// Router B, in its own process: `node --conditions=source --import tsx reader.ts`, configured through
// RWSPLIT_READER_CONFIG. Reads pairs back in sessions resumed from tokens another process minted; requests
// on stdin and replies on stdout, one JSON object per line, handled concurrently and matched by `seq`.
import { createInterface } from 'node:readline';
import { createRouter } from '@rwsplit/router';
import { readPair } from './read-back.js';
import {
  READER_CONFIG_ENV,
  type ReaderConfig,
  type ReaderReply,
  type ReaderRequest,
} from './reader-protocol.js';

const config = JSON.parse(process.env[READER_CONFIG_ENV] ?? 'null') as ReaderConfig | null;
if (!config) throw new Error(`${READER_CONFIG_ENV} is not set`);

const db = createRouter(config.router);
await db.ready();

function send(reply: ReaderReply): void {
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}

async function handle(request: ReaderRequest): Promise<ReaderReply> {
  if (request.op === 'topology') return { seq: request.seq, topology: db.topology() };
  const session = db.session({
    ...(request.token === undefined ? {} : { token: request.token }),
    ...(request.consistency === undefined ? {} : { consistency: request.consistency }),
  });
  try {
    const read = await readPair(session, request.id);
    return { seq: request.seq, ...read };
  } finally {
    session.release();
  }
}

const pending = new Set<Promise<void>>();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  const request = JSON.parse(line) as ReaderRequest;
  const done = handle(request)
    .catch((error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      const code = (e as { code?: unknown }).code;
      return {
        seq: request.seq,
        error: { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}) },
      };
    })
    .then(send)
    .finally(() => pending.delete(done));
  pending.add(done);
});
lines.on('close', async () => {
  await Promise.all(pending);
  await db.close();
});

send({ ready: true });
