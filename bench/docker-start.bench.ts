/**
 * Starting the topology as containers (`runtime: 'docker'`) beside native processes, in one run:
 *
 * - the first run on a machine: the images made from nothing (the rwsplit images removed first, so the
 *   debootstrapped base and all five images are built, as on a fresh machine with the engine installed);
 * - a second `ensureImages`, which finds every tag and builds nothing;
 * - the full topology (LB, two notes-app servers, primary + replica, managers; monitoring off, as the
 *   native cluster-start bench) started natively and as containers with the images cached, taking turns.
 *
 * Not a timed test: numbers for bench/results and the closing note. Run as root (the private engine).
 * Run: `node --conditions=source --import tsx bench/docker-start.bench.ts` (env BENCH_DOCKER_ROUNDS, default 3;
 * BENCH_DOCKER_KEEP_IMAGES=1 skips the first-run rebuild).
 */
import { pathToFileURL } from 'node:url';
import {
  acquireDockerEngine,
  type ClusterOptions,
  ensureImages,
  IMAGE_NAMES,
  type ImageBuild,
  startCluster,
} from '@rwsplit/cluster';
import { DockerApi } from '../packages/cluster/src/runtime/docker-api.js';
import { NOTES_APP } from '../test/support/notes-app.js';
import { envInt, median } from './router-overhead.bench.js';

interface Listed {
  readonly Id: string;
  readonly RepoTags?: string[] | null;
}

async function removeRwsplitImages(socketPath: string): Promise<number> {
  const api = new DockerApi(socketPath);
  const images = await api.call<Listed[]>('GET', '/images/json');
  const ours = images.filter((image) => (image.RepoTags ?? []).some((tag) => tag.startsWith('rwsplit/')));
  for (const image of ours) await api.call('DELETE', `/images/${image.Id}?force=true`);
  return ours.length;
}

async function timedStart(options: ClusterOptions): Promise<number> {
  const started = performance.now();
  const cluster = await startCluster(options);
  const ms = performance.now() - started;
  await cluster.stop();
  return ms;
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const rounds = envInt('BENCH_DOCKER_ROUNDS', 3);
  const engineStarted = performance.now();
  const engine = await acquireDockerEngine();
  const engineMs = performance.now() - engineStarted;
  try {
    const lines: string[] = [];
    if (process.env.BENCH_DOCKER_KEEP_IMAGES !== '1') {
      const removed = await removeRwsplitImages(engine.socketPath);
      const builds: ImageBuild[] = [];
      const coldStarted = performance.now();
      await ensureImages(engine, IMAGE_NAMES, { onBuild: (build) => builds.push(build) });
      const coldMs = performance.now() - coldStarted;
      lines.push(
        `First run (${removed} rwsplit images removed first, so everything is built): ${(coldMs / 1000).toFixed(1)} s in all.`,
        '',
        '| image | build |',
        '| --- | ---: |',
        ...builds.map((b) => `| ${b.name} | ${(b.ms / 1000).toFixed(1)} s |`),
        '',
      );
    }
    const builds: ImageBuild[] = [];
    const cachedStarted = performance.now();
    await ensureImages(engine, IMAGE_NAMES, { onBuild: (build) => builds.push(build) });
    lines.push(
      `Cached: a second ensureImages of all five took ${(performance.now() - cachedStarted).toFixed(0)} ms and built ${builds.length} images. Engine ${engine.owned ? 'private' : 'already running'}: acquired in ${engineMs.toFixed(0)} ms.`,
      '',
    );

    const base: ClusterOptions = { monitoring: false, servers: 2, replicas: 1, app: NOTES_APP };
    const times = { native: [] as number[], docker: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['native', 'docker'] as const) : (['docker', 'native'] as const);
      for (const runtime of order) times[runtime].push(await timedStart({ ...base, runtime }));
    }
    const row = (name: string, values: number[]) =>
      `| ${name} | ${(median(values) / 1000).toFixed(2)} s | ${values.map((v) => (v / 1000).toFixed(2)).join(', ')} |`;
    lines.push(
      `Full topology (LB, 2 notes-app servers, primary + 1 replica, 2 failover managers; monitoring off), images cached, ${rounds} rounds taking turns:`,
      '',
      '| runtime | median start | rounds |',
      '| --- | ---: | --- |',
      row('native processes', times.native),
      row('docker containers', times.docker),
      '',
      `docker ÷ native (medians): ${(median(times.docker) / median(times.native)).toFixed(2)}.`,
    );
    const markdown = lines.join('\n');
    return { title: 'Starting the topology as containers (runtime: docker)', markdown };
  } finally {
    await engine.release();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log((await run()).markdown);
}
