// The topology panel: one card per database node, as the answering app server sees it. Built from the
// public /api/status, which names no addresses and no probe errors (those are on /internal/status, on
// the app's own address only).

import { byId, el, formatMs } from './dom.js';

/** How a node stands, in words and as a tone for colour: words first, colour only reinforces them. */
function nodeStanding(node) {
  if (!node.reachable) return { tone: 'bad', text: 'Unreachable' };
  if (node.role === 'primary') return { tone: 'primary', text: 'Primary · takes writes' };
  if (node.inRotation) return { tone: 'good', text: 'In rotation · serves reads' };
  return { tone: 'warn', text: `Out of rotation${node.reason ? `: ${node.reason}` : ''}` };
}

function fact(label, value, className) {
  return el('div', { className: 'fact' }, el('dt', {}, label), el('dd', { className }, value));
}

function nodeCard(node) {
  const standing = nodeStanding(node);
  const health = node.reachable ? 'reachable' : 'unreachable';
  let rotation = 'yes';
  if (node.role === 'primary') rotation = 'n/a (primary)';
  else if (!node.inRotation) rotation = `no — ${node.reason ?? 'reason unknown'}`;

  return el(
    'article',
    { className: `node tone-${standing.tone}`, dataset: { node: node.name, role: node.role } },
    el(
      'header',
      { className: 'node-head' },
      el('span', { className: 'node-name' }, node.name),
      el('span', { className: 'role' }, node.role),
    ),
    el(
      'p',
      { className: 'standing' },
      el('span', { className: 'standing-dot', 'aria-hidden': 'true' }),
      standing.text,
    ),
    el(
      'dl',
      { className: 'facts' },
      fact('Health', health),
      fact('Lag', node.role === 'primary' ? 'n/a' : formatMs(node.lagMs), 'mono'),
      fact('In rotation', rotation),
    ),
  );
}

export function renderTopology(status) {
  const container = byId('topology');
  // Primary first, then replicas by name: the order people read a replication diagram in.
  const nodes = [...status.topology].sort(
    (a, b) => Number(b.role === 'primary') - Number(a.role === 'primary') || a.name.localeCompare(b.name),
  );
  if (nodes.length === 0) {
    container.replaceChildren(el('p', { className: 'empty' }, 'This server knows no database nodes.'));
  } else {
    container.replaceChildren(...nodes.map(nodeCard));
  }
  byId('topology-source').textContent = `as ${status.server} sees it`;
}
