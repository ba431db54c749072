import type { NodeStatus, OutOfRotationReason } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { InternalStatus, PublicStatus } from '../src/dashboard/status-views.js';
import { type StartedApp, startApp } from './support/app-server.js';

// Nodes whose addresses and probe errors are all distinctive, so any leak of them is found in the JSON.
const PRIMARY: NodeStatus = {
  name: 'db-primary',
  host: '10.20.30.11',
  port: 3311,
  role: 'primary',
  reachable: true,
  lagMs: null,
  inRotation: false,
  position: '0-1-42',
  checkedAt: 1_700_000_000_000,
};
const DOWN: NodeStatus = {
  name: 'db-replica-1',
  host: 'replica-one.db.internal.example',
  port: 3312,
  role: 'unknown',
  reachable: false,
  lagMs: 12,
  inRotation: false,
  reason: 'unreachable',
  error: "connect ECONNREFUSED 10.20.30.12:3312 (Access denied for user 'monitor'@'10.20.30.5')",
  checkedAt: 1_700_000_000_000,
};
// A reason that is not one of the router's codes (the type forbids it; this answer must not depend on that).
const ODD_REASON = 'lagging behind 10.20.30.11:3311';
const ODD: NodeStatus = {
  name: 'db-replica-2',
  host: '10.20.30.13',
  port: 3313,
  role: 'replica',
  reachable: true,
  lagMs: 7,
  inRotation: false,
  reason: ODD_REASON as unknown as OutOfRotationReason,
  checkedAt: 1_700_000_000_000,
};
const NODES = [PRIMARY, DOWN, ODD];
const SECRETS = [
  ...NODES.flatMap((node) => [node.host, `${node.host}:${node.port}`]),
  ...NODES.flatMap((node) => (node.error === undefined ? [] : [node.error])),
  '10.20.30.',
  ODD_REASON,
  'ECONNREFUSED',
  'Access denied',
];

let app: StartedApp;

beforeAll(async () => {
  app = await startApp();
  vi.spyOn(app.db, 'topology').mockReturnValue(NODES);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await app.stop();
});

/** Every key and every string or number value anywhere in `value`. */
function leaves(value: unknown): (string | number)[] {
  if (typeof value === 'string' || typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([key, child]) => [key, ...leaves(child)]);
  return [];
}

async function getJson<T>(path: string): Promise<{ status: number; cache: string | null; body: T }> {
  const res = await fetch(`${app.base}${path}`);
  return { status: res.status, cache: res.headers.get('cache-control'), body: (await res.json()) as T };
}

describe('GET /api/status, the public form', () => {
  it('names each node with its role, health, lag and rotation, and a reason only when it is a fixed code', async () => {
    const { status, cache, body } = await getJson<PublicStatus>('/api/status');
    expect(status).toBe(200);
    expect(cache).toBe('no-store');
    expect(Object.keys(body).sort()).toEqual(['lagHistory', 'now', 'routing', 'server', 'topology']);
    expect(body.topology).toEqual([
      { name: 'db-primary', role: 'primary', reachable: true, lagMs: null, inRotation: false, reason: null },
      {
        name: 'db-replica-1',
        role: 'unknown',
        reachable: false,
        lagMs: 12,
        inRotation: false,
        reason: 'unreachable',
      },
      { name: 'db-replica-2', role: 'replica', reachable: true, lagMs: 7, inRotation: false, reason: null },
    ]);
  });

  it('holds no address, port or probe error anywhere in the answer', async () => {
    const { body } = await getJson<PublicStatus>('/api/status');
    const all = leaves(body);
    for (const key of ['host', 'port', 'error', 'position']) expect(all, key).not.toContain(key);
    for (const port of NODES.map((node) => node.port)) expect(all, String(port)).not.toContain(port);
    const strings = all.filter((leaf): leaf is string => typeof leaf === 'string');
    for (const secret of SECRETS) {
      expect(
        strings.filter((text) => text.includes(secret)),
        secret,
      ).toEqual([]);
    }
  });
});

describe('GET /internal/status, the detailed form on the internal router', () => {
  it('gives each node its address, rotation reason and probe error', async () => {
    const { status, cache, body } = await getJson<InternalStatus>('/internal/status');
    expect(status).toBe(200);
    expect(cache).toBe('no-store');
    expect(body.topology).toEqual([
      {
        name: 'db-primary',
        host: '10.20.30.11',
        port: 3311,
        role: 'primary',
        reachable: true,
        lagMs: null,
        inRotation: false,
        reason: null,
        error: null,
      },
      {
        name: 'db-replica-1',
        host: 'replica-one.db.internal.example',
        port: 3312,
        role: 'unknown',
        reachable: false,
        lagMs: 12,
        inRotation: false,
        reason: 'unreachable',
        error: DOWN.error,
      },
      {
        name: 'db-replica-2',
        host: '10.20.30.13',
        port: 3313,
        role: 'replica',
        reachable: true,
        lagMs: 7,
        inRotation: false,
        reason: ODD_REASON,
        error: null,
      },
    ]);
  });

  it('answers at exactly that path: other spellings, which Nginx would pass on, get a 404 without the topology', async () => {
    for (const path of [
      '/internal/status/',
      '/INTERNAL/status',
      '/internal/Status',
      '/api/internal/status',
    ]) {
      const res = await fetch(`${app.base}${path}`);
      expect(res.status, path).toBe(404);
      const text = await res.text();
      for (const node of NODES) expect(text, path).not.toContain(node.host);
    }
  });
});
