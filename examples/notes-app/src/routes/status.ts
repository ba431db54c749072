import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { NodeStatus } from '@rwsplit/router';
import { type Request, type Response, Router } from 'express';
import type { LagHistory, LagSample } from '../dashboard/lag-history.js';
import { type RoutingCounters, routingCounters } from '../dashboard/routing-counters.js';

/** A database node as the dashboard shows it. */
export interface NodeView {
  name: string;
  host: string;
  port: number;
  role: NodeStatus['role'];
  reachable: boolean;
  lagMs: number | null;
  inRotation: boolean;
  /** Why a replica is out of rotation; null when in rotation or for the primary. */
  reason: string | null;
  error: string | null;
}

/** `GET /api/status`: everything the dashboard polls for. */
export interface StatusResponse {
  server: string;
  now: number;
  topology: NodeView[];
  lagHistory: readonly LagSample[];
  routing: RoutingCounters;
}

export interface StatusRouterOptions {
  readonly serverName: string;
  readonly topology: () => readonly NodeStatus[];
  readonly lagHistory: LagHistory;
  readonly collectMetrics: () => Promise<ResourceMetrics>;
}

export function nodeView(node: NodeStatus): NodeView {
  return {
    name: node.name,
    host: node.host,
    port: node.port,
    role: node.role,
    reachable: node.reachable,
    lagMs: node.lagMs,
    inRotation: node.inRotation,
    reason: node.reason ?? null,
    error: node.error ?? null,
  };
}

/** The dashboard's data: this server's view of the topology, lag over the last minute, routing counters. */
export function statusRouter(options: StatusRouterOptions): Router {
  const router = Router();
  router.get('/', async (_req: Request, res: Response) => {
    const body: StatusResponse = {
      server: options.serverName,
      now: Date.now(),
      topology: options.topology().map(nodeView),
      lagHistory: options.lagHistory.samples(),
      routing: routingCounters(await options.collectMetrics()),
    };
    // Live data: a cached answer would show a topology that no longer exists.
    res.setHeader('Cache-Control', 'no-store');
    res.json(body);
  });
  return router;
}
