/**
 * Which configured node takes writes, decided from the monitor's latest probes: pure, so failover rules
 * are tested without servers. The primary is the one reachable node with `read_only` off. None means
 * writes fail fast; two or more means split brain, and writes stop rather than go to both.
 */

export interface RoleProbe {
  readonly name: string;
  readonly reachable: boolean;
  /** Meaningful only when reachable. */
  readonly readOnly: boolean;
}

export type PrimaryDecision =
  | { readonly kind: 'primary'; readonly node: string }
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'split-brain'; readonly nodes: readonly string[] };

export function discoverPrimary(nodes: readonly RoleProbe[]): PrimaryDecision {
  const writable = nodes.filter((node) => node.reachable && !node.readOnly).map((node) => node.name);
  if (writable.length === 1) return { kind: 'primary', node: writable[0] as string };
  if (writable.length > 1) return { kind: 'split-brain', nodes: writable };
  const unreachable = nodes.filter((node) => !node.reachable).map((node) => node.name);
  return {
    kind: 'none',
    reason:
      unreachable.length > 0
        ? `no reachable writable node (unreachable: ${unreachable.join(', ')})`
        : 'every node is read-only (a promotion may be in progress)',
  };
}
