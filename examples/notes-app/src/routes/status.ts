import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { NodeStatus } from '@rwsplit/router';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import type { LagHistory } from '../dashboard/lag-history.js';
import { routingCounters } from '../dashboard/routing-counters.js';
import {
  type InternalNodeView,
  type InternalStatus,
  internalNodeView,
  type PublicNodeView,
  type PublicStatus,
  publicNodeView,
  type StatusBody,
} from '../dashboard/status-views.js';

/** Where both status answers come from. */
export interface StatusSources {
  readonly serverName: string;
  readonly topology: () => readonly NodeStatus[];
  readonly lagHistory: LagHistory;
  readonly collectMetrics: () => Promise<ResourceMetrics>;
}

async function statusBody<Node>(
  sources: StatusSources,
  view: (node: NodeStatus) => Node,
): Promise<StatusBody<Node>> {
  return {
    server: sources.serverName,
    now: Date.now(),
    topology: sources.topology().map(view),
    lagHistory: sources.lagHistory.samples(),
    routing: routingCounters(await sources.collectMetrics()),
  };
}

function sendLive(res: Response, body: PublicStatus | InternalStatus): void {
  // Live data: a cached answer would show a topology that no longer exists.
  res.setHeader('Cache-Control', 'no-store');
  res.json(body);
}

/** `GET /api/status`, mounted there: the dashboard's data in its public form (`PublicStatus`). */
export function statusRouter(sources: StatusSources): Router {
  const router = Router();
  router.get('/', async (_req: Request, res: Response) => {
    sendLive(res, await statusBody<PublicNodeView>(sources, publicNodeView));
  });
  return router;
}

/**
 * `GET /internal/status`: every node's address and probe error too (`InternalStatus`). For the internal
 * router only, which Nginx never forwards to.
 */
export function internalStatusHandler(sources: StatusSources): RequestHandler {
  return async (_req, res) => {
    sendLive(res, await statusBody<InternalNodeView>(sources, internalNodeView));
  };
}
