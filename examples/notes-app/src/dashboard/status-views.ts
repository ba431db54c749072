import type { NodeStatus, OutOfRotationReason } from '@rwsplit/router';
import type { LagSample } from './lag-history.js';
import type { RoutingCounters } from './routing-counters.js';

/**
 * A database node as anyone may see it: `GET /api/status` goes out through the load balancer, so it says
 * what the node does and how it stands, never where it is or what its probe said (a driver's error text
 * carries addresses, user names, server versions).
 */
export interface PublicNodeView {
  readonly name: string;
  readonly role: NodeStatus['role'];
  readonly reachable: boolean;
  readonly lagMs: number | null;
  readonly inRotation: boolean;
  /**
   * Why a replica is out of rotation, one of the router's fixed codes; null when in rotation, for the
   * primary, and for a value that is not one of those codes.
   */
  readonly reason: OutOfRotationReason | null;
}

/** A database node as operators see it on the app's own address (`GET /internal/status`). */
export interface InternalNodeView {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly role: NodeStatus['role'];
  readonly reachable: boolean;
  readonly lagMs: number | null;
  readonly inRotation: boolean;
  /** Why a replica is out of rotation; null when in rotation or for the primary. */
  readonly reason: string | null;
  /** The last probe error, as the driver worded it; null while the node answers. */
  readonly error: string | null;
}

/** Both status answers: this server's view of the topology, lag over the last minute, routing counters. */
export interface StatusBody<Node> {
  readonly server: string;
  readonly now: number;
  readonly topology: readonly Node[];
  readonly lagHistory: readonly LagSample[];
  readonly routing: RoutingCounters;
}

/** `GET /api/status`: what the dashboard polls, fit for anyone who can reach the load balancer. */
export type PublicStatus = StatusBody<PublicNodeView>;

/** `GET /internal/status`: the same with every node's address and probe error. */
export type InternalStatus = StatusBody<InternalNodeView>;

/**
 * Every reason the router gives, each checked to be a fixed code. A `Record` over the union, so a reason
 * the router adds fails to compile here until someone has looked at what it can contain.
 */
const PUBLIC_REASONS: Readonly<Record<OutOfRotationReason, true>> = {
  unreachable: true,
  writable: true,
  'not replicating': true,
  'replication stopped': true,
  'lag unknown': true,
  lagging: true,
  readmitting: true,
};

/** The reason if it is one of the router's fixed codes: the type says so, but this answer leaves the host. */
function publicReason(reason: string | undefined): OutOfRotationReason | null {
  return reason !== undefined && Object.hasOwn(PUBLIC_REASONS, reason)
    ? (reason as OutOfRotationReason)
    : null;
}

/** Built field by field, never by spreading `node`: a field the router adds stays out until chosen. */
export function publicNodeView(node: NodeStatus): PublicNodeView {
  return {
    name: node.name,
    role: node.role,
    reachable: node.reachable,
    lagMs: node.lagMs,
    inRotation: node.inRotation,
    reason: publicReason(node.reason),
  };
}

export function internalNodeView(node: NodeStatus): InternalNodeView {
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
