import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { findBinary } from '../src/binaries.js';
import { LoopbackHostModel } from '../src/host-model.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

describe('LoopbackHostModel', () => {
  it('allocates a free 127.X.Y block and gives each host its own address', async () => {
    const hosts = await LoopbackHostModel.allocate();
    cleanups.push(() => hosts.release());
    expect(hosts.block).toMatch(/^127\.\d+\.\d+$/);
    expect(hosts.address(21)).toBe(`${hosts.block}.21`);
  });

  it('never hands the same block to two allocations at once', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => LoopbackHostModel.allocate()));
    cleanups.push(() => {
      for (const hosts of all) hosts.release();
    });
    expect(new Set(all.map((hosts) => hosts.block)).size).toBe(8);
  });

  it('refuses a pinned block that another allocation holds, and frees it on release', async () => {
    const first = await LoopbackHostModel.allocate();
    await expect(LoopbackHostModel.allocate(first.block)).rejects.toMatchObject({
      code: 'CLUSTER_NO_FREE_BLOCK',
    });
    first.release();
    const again = await LoopbackHostModel.allocate(first.block);
    cleanups.push(() => again.release());
    expect(again.block).toBe(first.block);
  });

  it('refuses a pinned block where something already listens', async () => {
    const probe = await LoopbackHostModel.allocate();
    const block = probe.block;
    probe.release();
    const squatter = await listen(`${block}.99`, 0);
    cleanups.push(() => squatter.close());
    await expect(LoopbackHostModel.allocate(block)).rejects.toMatchObject({ code: 'CLUSTER_NO_FREE_BLOCK' });
  });

  it('keeps the preferred port when free and picks another when it is taken', async () => {
    const hosts = await LoopbackHostModel.allocate();
    cleanups.push(() => hosts.release());
    const host = hosts.address(21);
    expect(await hosts.claimPort(host, 3306)).toBe(3306);
    const squatter = await listen(host, 3306);
    cleanups.push(() => squatter.close());
    const other = await hosts.claimPort(host, 3306);
    expect(other).not.toBe(3306);
    expect(other).toBeGreaterThan(1023);
  });
});

describe('findBinary', () => {
  it('finds daemons in sbin even when PATH lacks it', () => {
    expect(findBinary('mariadbd')).toMatch(/\/mariadbd$/);
  });

  it('names the package to install for a missing binary', () => {
    expect(() => findBinary('rwsplit-no-such-binary')).toThrow(/CLUSTER_MISSING_BINARY|apt-get install -y/);
  });
});
