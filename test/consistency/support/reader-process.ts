import type { RouterConfig } from '@rwsplit/router';
import { JsonLinesChild } from './json-lines-child.js';
import type { ReadBack } from './read-back.js';
import {
  READER_CONFIG_ENV,
  type ReaderConsistency,
  type ReaderReply,
  type ReaderRequest,
} from './reader-protocol.js';

// Omit over each member of the union, so `op` still discriminates.
type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;
type Body = WithoutSeq<ReaderRequest>;

/** A long-lived child process running `reader.ts`: its own router, fed read requests over stdin. */
export class ReaderProcess {
  private seq = 0;
  private readonly pending = new Map<
    number,
    { resolve: (reply: ReaderReply) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly child: JsonLinesChild<ReaderReply>) {
    child.onMessage((reply) => {
      if (!('seq' in reply)) return;
      const waiter = this.pending.get(reply.seq);
      this.pending.delete(reply.seq);
      waiter?.resolve(reply);
    });
    child.onExit((reason) => {
      for (const { reject } of this.pending.values()) reject(new Error(reason));
      this.pending.clear();
    });
  }

  static async start(router: RouterConfig): Promise<ReaderProcess> {
    const child = new JsonLinesChild<ReaderReply>('./reader.ts', {
      [READER_CONFIG_ENV]: JSON.stringify({ router }),
    });
    try {
      await child.ready;
    } catch (error) {
      await child.stop();
      throw error;
    }
    return new ReaderProcess(child);
  }

  private request(body: Body): Promise<ReaderReply> {
    const { exited } = this.child;
    if (exited) return Promise.reject(new Error(exited));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.child.send({ ...body, seq });
    });
  }

  /** Reads pair `id` back in router B, in a session resumed from `token`. Rejects with B's error, if any. */
  async read(id: number, token?: string, consistency?: ReaderConsistency): Promise<ReadBack> {
    const reply = await this.request({
      op: 'read',
      id,
      ...(token === undefined ? {} : { token }),
      ...(consistency === undefined ? {} : { consistency }),
    });
    if ('error' in reply) {
      throw Object.assign(new Error(`reader: ${reply.error.name}: ${reply.error.message}`), reply.error);
    }
    if (!('found' in reply)) throw new Error(`unexpected reader reply ${JSON.stringify(reply)}`);
    return { serverId: reply.serverId, found: reply.found };
  }

  /** Router B's `topology()`. */
  async topology(): Promise<{ name: string; inRotation: boolean; lagMs: number | null }[]> {
    const reply = await this.request({ op: 'topology' });
    if (!('topology' in reply)) throw new Error(`unexpected reader reply ${JSON.stringify(reply)}`);
    return reply.topology as { name: string; inRotation: boolean; lagMs: number | null }[];
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}
