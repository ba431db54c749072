// The routing-counters table: each app server's read/write routing decisions, side by side.

import { byId, el, numberFormat, serverTone } from './dom.js';

// Counters from a server that has not answered for this long are marked stale (it may be down).
const STALE_COUNTERS_MS = 5_000;
// Listed even at zero so a reader learns every reason a read can end up on the primary.
const KNOWN_FALLBACKS = [
  'no healthy replica',
  'replica failed',
  'replica behind session',
  'strong consistency',
  'unverifiable token',
];

/**
 * One table with a column per app server. Each server counts only its own decisions and polls
 * alternate between servers, so showing only the latest answer would make the numbers jump back and
 * forth; side by side, each column grows steadily and the answering server is highlighted.
 * `countersByServer` maps each server's name to `{ routing, at }`: its latest counters and when they came.
 */
export function renderRouting(countersByServer, currentServer) {
  const servers = [...countersByServer.keys()].sort((a, b) => a.localeCompare(b));
  const now = Date.now();
  const reasons = new Set(KNOWN_FALLBACKS);
  for (const { routing } of countersByServer.values())
    for (const reason of Object.keys(routing.fallbacks)) reasons.add(reason);

  const sum = (values) => values.reduce((total, value) => total + value, 0);
  const rows = [
    { label: 'Reads routed to replicas', value: (r) => r.replicaReads },
    { label: 'Reads that fell back to the primary', value: (r) => r.primaryReads },
    {
      label: 'Share of reads on replicas',
      format: (r) => {
        const reads = r.replicaReads + r.primaryReads;
        return reads === 0 ? '—' : `${Math.round((r.replicaReads / reads) * 100)} %`;
      },
    },
    { label: 'Fallbacks to primary', value: (r) => sum(Object.values(r.fallbacks)), group: true },
    ...[...reasons].map((reason) => ({ label: reason, value: (r) => r.fallbacks[reason] ?? 0, sub: true })),
    {
      label: 'Read-your-writes waits (reached / timed out / failed)',
      format: (r) =>
        [r.waits.reached, r.waits.timedOut, r.waits.failed ?? 0]
          .map((n) => numberFormat.format(n))
          .join(' / '),
      zero: (r) => r.waits.reached + r.waits.timedOut + (r.waits.failed ?? 0) === 0,
    },
    {
      label: 'Statements only the primary may run (writes, locking reads, transactions)',
      value: (r) => r.writes,
    },
  ];

  const headCells = servers.map((server) => {
    const { at } = countersByServer.get(server);
    const stale = now - at > STALE_COUNTERS_MS;
    return el(
      'th',
      { scope: 'col', className: server === currentServer ? 'current' : undefined },
      el('span', { className: 'server-chip', dataset: { tone: serverTone(server) } }, server),
      el(
        'span',
        { className: `age${stale ? ' stale' : ''}` },
        stale ? `${Math.round((now - at) / 1000)} s old` : 'live',
      ),
    );
  });

  const bodyRows = rows.map((row) => {
    const cells = servers.map((server) => {
      const { routing } = countersByServer.get(server);
      const value = row.value?.(routing);
      const text = row.format ? row.format(routing) : numberFormat.format(value);
      const isZero = row.zero ? row.zero(routing) : value === 0;
      const classes = ['mono', server === currentServer ? 'current' : '', isZero ? 'zero' : ''];
      return el('td', { className: classes.filter(Boolean).join(' ') }, text);
    });
    const rowClass = row.sub ? 'sub' : row.group ? 'group' : undefined;
    return el(
      'tr',
      { className: rowClass },
      el('th', { scope: 'row' }, row.sub ? `└ ${row.label}` : row.label),
      ...cells,
    );
  });

  byId('routing').replaceChildren(
    el(
      'p',
      { className: 'muted small routing-note' },
      'Each app server counts its own decisions since it started. Highlighted: ',
      el('strong', {}, currentServer),
      ' (answered the latest poll).',
    ),
    el(
      'div',
      { className: 'table-scroll' },
      el(
        'table',
        { className: 'counters' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Counter'), ...headCells)),
        el('tbody', {}, ...bodyRows),
      ),
    ),
  );
}
