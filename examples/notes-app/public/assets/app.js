// The notes app's live dashboard: polls /api/status, draws what the answering app server sees, and
// lets a person add a note and watch where its write and read-back went. Plain DOM, no framework:
// every piece of server text goes in through textContent, so a note titled `<script>` is shown as
// text and never parsed as markup.

const POLL_MS = 1_000;
// Back off when the stack is down so a dead load balancer is not hammered, but not so far that the
// page takes long to notice it came back.
const MAX_BACKOFF_MS = 8_000;
// A request that hangs must not freeze the poll loop, which waits for each poll to finish.
const REQUEST_TIMEOUT_MS = 5_000;
const NOTES_REFRESH_MS = 5_000;
const NOTES_LIMIT = 10;
const SERVER_HISTORY = 20;
const CHART_WINDOW_MS = 60_000;
// Below this the y-axis stops shrinking, so a few ms of jitter does not look like a spike.
const CHART_MIN_SCALE_MS = 100;
const CHART_HEIGHT = 170;
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
const SVG_NS = 'http://www.w3.org/2000/svg';

const byId = (id) => document.getElementById(id);

const state = {
  /** The last /api/status body, kept so the chart can redraw on resize without waiting for a poll. */
  status: null,
  /** Latest routing counters per app server: polls alternate between servers, each with its own. */
  countersByServer: new Map(),
  /** Which server answered the last polls, oldest first; null marks a failed poll. */
  servedHistory: [],
  failures: 0,
  /** The note just added, highlighted in the list once it shows up. */
  freshNoteId: null,
};

// ---------------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(message, { status = 0, details, servedBy = null, dbNode = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.details = details;
    this.servedBy = servedBy;
    this.dbNode = dbNode;
  }
}

/**
 * Calls the JSON API and returns the body with the headers that say who answered. Sends cookies
 * (`same-origin`) because the app's read-your-writes token travels in one. Throws ApiError with the
 * API's own message on any failure, so callers show one kind of error.
 */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  let text;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    throw new ApiError(timedOut ? 'The server did not answer in time' : 'Could not reach the server');
  }
  const meta = {
    status: response.status,
    servedBy: response.headers.get('X-Served-By'),
    dbNode: response.headers.get('X-DB-Node'),
  };
  let data = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    // An HTML error page from a proxy, say: reported below by status.
  }
  if (!response.ok) {
    const error = data?.error;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
    throw new ApiError(message, { ...meta, details: error?.details });
  }
  if (data === null) throw new ApiError(`Unexpected response (HTTP ${response.status}, not JSON)`, meta);
  return { ...meta, data };
}

/** The API's `details` as readable lines: validation issues are `{ path, message }`, anything else JSON. */
function detailLines(details) {
  if (details === undefined || details === null) return [];
  const items = Array.isArray(details) ? details : [details];
  return items.map((item) => {
    if (item && typeof item === 'object' && typeof item.message === 'string') {
      return item.path ? `${item.path}: ${item.message}` : item.message;
    }
    return typeof item === 'string' ? item : JSON.stringify(item);
  });
}

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

/** `el('span', { className: 'x' }, 'text', child)`: strings become text nodes, never markup. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

function svgEl(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const numberFormat = new Intl.NumberFormat();

function formatMs(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  // Number() drops trailing zeros, so axis ticks read "2 s", "2.5 s" rather than "2.00 s".
  return `${Number((ms / 1_000).toFixed(ms < 10_000 ? 2 : 1))} s`;
}

/**
 * A stable colour slot per app server, so server-1 keeps its colour across polls and reloads. Uses the
 * trailing number when there is one (server-1, server-2 never collide), else a string hash.
 */
function serverTone(name) {
  const number = /(\d+)$/.exec(name);
  if (number) return String((Number(number[1]) - 1) % 6);
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return String(hash % 6);
}

/** The short label of a server in the history strip: its number, or its first letters. */
function serverShort(name) {
  return /(\d+)$/.exec(name)?.[1] ?? name.slice(0, 2);
}

// ---------------------------------------------------------------------------------------------
// Header: who served you, who served the last polls, is the connection alive

function renderServedBy(server) {
  const badge = byId('served-by');
  badge.textContent = server;
  badge.dataset.tone = serverTone(server);
}

function renderServedHistory() {
  const items = state.servedHistory.map((entry) => {
    if (entry.server === null) {
      return el('li', { className: 'chip failed', title: `Poll failed at ${entry.at}` }, '×');
    }
    return el(
      'li',
      {
        className: 'chip',
        title: `${entry.server} at ${entry.at}`,
        dataset: { tone: serverTone(entry.server) },
      },
      serverShort(entry.server),
    );
  });
  byId('served-history').replaceChildren(...items);
}

function rememberServer(server) {
  state.servedHistory.push({ server, at: new Date().toLocaleTimeString() });
  if (state.servedHistory.length > SERVER_HISTORY) state.servedHistory.shift();
  renderServedHistory();
}

function renderConnection(connectionState, text, detail) {
  const box = byId('connection');
  box.dataset.state = connectionState;
  box.title = detail ?? '';
  byId('connection-text').textContent = text;
  // Lets the stylesheet dim the panels while they show data that may be out of date.
  document.body.dataset.connection = connectionState;
}

// ---------------------------------------------------------------------------------------------
// Topology

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
      fact('Address', `${node.host}:${node.port}`, 'mono'),
      fact('Health', health),
      fact('Lag', node.role === 'primary' ? 'n/a' : formatMs(node.lagMs), 'mono'),
      fact('In rotation', rotation),
    ),
    node.error ? el('p', { className: 'node-error', title: node.error }, node.error) : null,
  );
}

function renderTopology(status) {
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

// ---------------------------------------------------------------------------------------------
// Lag chart

/** Replica names in a stable order: from the topology and from history (a replica may have gone). */
function replicaNames(status) {
  const names = new Set(status.topology.filter((node) => node.role !== 'primary').map((node) => node.name));
  for (const sample of status.lagHistory) for (const name of Object.keys(sample.lagMs)) names.add(name);
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** A round tick step (1, 2, 2.5 or 5 × 10^n) giving about four intervals up to `max`. */
function tickStep(max) {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw);
  return step ?? 10 * magnitude;
}

function renderLagChart(status) {
  const svg = byId('lag-chart');
  const width = Math.max(svg.clientWidth, 280);
  const height = CHART_HEIGHT;
  const margin = { top: 10, right: 14, bottom: 24, left: 52 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));

  const names = replicaNames(status);
  const samples = status.lagHistory;
  // The window ends at the newest sample, so the right edge is "now" as the server measured it.
  const end = samples.at(-1)?.at ?? status.now;
  const start = end - CHART_WINDOW_MS;

  let highest = 0;
  for (const sample of samples) {
    for (const value of Object.values(sample.lagMs))
      if (typeof value === 'number') highest = Math.max(highest, value);
  }
  // 10 % headroom so the highest point does not sit on the frame.
  const wanted = Math.max(CHART_MIN_SCALE_MS, highest * 1.1);
  const step = tickStep(wanted);
  const top = Math.ceil(wanted / step) * step;

  const x = (at) => margin.left + ((at - start) / CHART_WINDOW_MS) * plotWidth;
  const y = (ms) => margin.top + plotHeight - (Math.min(ms, top) / top) * plotHeight;

  const children = [];
  for (let value = 0; value <= top; value += step) {
    children.push(
      svgEl('line', { class: 'grid', x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }),
      svgEl(
        'text',
        { class: 'axis', x: margin.left - 6, y: y(value) + 4, 'text-anchor': 'end' },
        formatMs(value),
      ),
    );
  }
  for (let secondsAgo = 60; secondsAgo >= 0; secondsAgo -= 15) {
    const at = end - secondsAgo * 1_000;
    const anchor = secondsAgo === 60 ? 'start' : secondsAgo === 0 ? 'end' : 'middle';
    children.push(
      svgEl('line', {
        class: 'grid faint',
        x1: x(at),
        x2: x(at),
        y1: margin.top,
        y2: margin.top + plotHeight,
      }),
      svgEl(
        'text',
        { class: 'axis', x: x(at), y: height - 6, 'text-anchor': anchor },
        secondsAgo === 0 ? 'now' : `−${secondsAgo} s`,
      ),
    );
  }

  names.forEach((name, index) => {
    // A null sample (lag unknown: replica unreachable or not replicating) breaks the line rather than
    // drawing it down to zero, which would claim the replica was perfectly current.
    let path = '';
    let run = [];
    const isolated = [];
    const flush = () => {
      if (run.length === 1) isolated.push(run[0]);
      run = [];
    };
    for (const sample of samples) {
      const value = sample.lagMs[name];
      if (typeof value !== 'number' || sample.at < start) {
        flush();
        continue;
      }
      const point = [x(sample.at), y(value)];
      path += `${run.length === 0 ? 'M' : 'L'}${point[0].toFixed(1)},${point[1].toFixed(1)}`;
      run.push(point);
    }
    flush();
    const series = `series-${index % 6}`;
    if (path) children.push(svgEl('path', { class: `line ${series}`, d: path }));
    // A single known sample between gaps has no segment to draw: a dot keeps it visible.
    for (const [px, py] of isolated)
      children.push(svgEl('circle', { class: `point ${series}`, cx: px, cy: py, r: 2.5 }));
  });

  if (names.length === 0) {
    children.push(
      svgEl(
        'text',
        { class: 'axis empty-chart', x: width / 2, y: height / 2, 'text-anchor': 'middle' },
        'No replicas',
      ),
    );
  }
  svg.replaceChildren(...children);

  const latest = samples.at(-1)?.lagMs ?? {};
  const summary = names.map((name) => `${name} ${formatMs(latest[name])}`).join(', ');
  svg.setAttribute('aria-label', `Replication lag over the last minute. Now: ${summary || 'no replicas'}.`);
  byId('lag-legend').replaceChildren(
    ...names.map((name, index) =>
      el(
        'li',
        { dataset: { series: name } },
        el('span', { className: `swatch series-${index % 6}`, 'aria-hidden': 'true' }),
        el('span', {}, name),
        el(
          'span',
          { className: 'mono muted' },
          typeof latest[name] === 'number' ? formatMs(latest[name]) : 'no data now',
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Routing counters

/**
 * One table with a column per app server. Each server counts only its own decisions and polls
 * alternate between servers, so showing only the latest answer would make the numbers jump back and
 * forth; side by side, each column grows steadily and the answering server is highlighted.
 */
function renderRouting(currentServer) {
  const servers = [...state.countersByServer.keys()].sort((a, b) => a.localeCompare(b));
  const now = Date.now();
  const reasons = new Set(KNOWN_FALLBACKS);
  for (const { routing } of state.countersByServer.values())
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
    const { at } = state.countersByServer.get(server);
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
      const { routing } = state.countersByServer.get(server);
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

// ---------------------------------------------------------------------------------------------
// Status polling

function renderStatus(status, servedBy) {
  state.status = status;
  state.countersByServer.set(status.server, { routing: status.routing, at: Date.now() });
  renderServedBy(servedBy);
  rememberServer(servedBy);
  renderTopology(status);
  renderLagChart(status);
  renderRouting(status.server);
}

/**
 * Polls once a second, one request at a time: the next poll is scheduled only when this one has
 * finished, so a slow server never piles requests up. After failures the delay doubles up to a cap.
 */
async function poll() {
  let delay = POLL_MS;
  try {
    let response;
    try {
      response = await api('/api/status');
    } catch (error) {
      state.failures += 1;
      delay = Math.min(POLL_MS * 2 ** (state.failures - 1), MAX_BACKOFF_MS);
      rememberServer(null);
      renderConnection(
        'lost',
        `Connection lost · retrying in ${Math.round(delay / 1000)} s (${state.failures} failed)`,
        error.message,
      );
      // Re-render so the counters' columns show how old they are.
      if (state.status) renderRouting(state.status.server);
      return;
    }
    state.failures = 0;
    // Nginx names the server in X-Served-By; when the app runs alone there is no Nginx, so use its own name.
    renderStatus(response.data, response.servedBy ?? response.data.server);
    renderConnection('live', 'Live · updates every second');
  } finally {
    // Scheduled even if rendering threw, so one bad answer cannot stop the dashboard for good.
    setTimeout(poll, delay);
  }
}

// ---------------------------------------------------------------------------------------------
// Recent notes

function formatTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

function snippet(text, length = 140) {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

function noteItem(note) {
  return el(
    'li',
    {
      className: note.id === state.freshNoteId ? 'note fresh' : 'note',
      dataset: { noteId: String(note.id) },
    },
    el(
      'div',
      { className: 'note-head' },
      el('span', { className: 'note-id mono' }, `#${note.id}`),
      el('span', { className: 'note-title' }, note.title),
      el(
        'time',
        { className: 'muted small', dateTime: note.created_at, title: note.created_at },
        formatTime(note.created_at),
      ),
    ),
    note.body
      ? el('p', { className: 'note-body' }, snippet(note.body))
      : el('p', { className: 'note-body muted' }, 'No body'),
  );
}

async function loadNotes() {
  const errorBox = byId('notes-error');
  try {
    const { data, servedBy, dbNode } = await api(`/api/notes?limit=${NOTES_LIMIT}`);
    const list = byId('notes-list');
    if (data.notes.length === 0) {
      list.replaceChildren(el('li', { className: 'empty' }, 'No notes yet — add one with the form above.'));
    } else {
      list.replaceChildren(...data.notes.map(noteItem));
      // Highlight the new note once; the next refresh rebuilds the list and must not flash it again.
      if (data.notes.some((note) => note.id === state.freshNoteId)) state.freshNoteId = null;
    }
    const via = [servedBy && `via ${servedBy}`, dbNode && dbNode !== 'none' && `from ${dbNode}`].filter(
      Boolean,
    );
    byId('notes-source').textContent = `${via.join(' ')} · ${new Date().toLocaleTimeString()}`;
    errorBox.hidden = true;
  } catch (error) {
    // Keep the last list on screen: it is still the best we know; just say it could not be refreshed.
    errorBox.textContent = `Could not refresh the notes: ${error.message}`;
    errorBox.hidden = false;
  }
}

const notesRefresh = { running: false, again: false, timer: undefined };

/** Reloads the list now, never two requests at once; a call during a load queues one more load. */
async function refreshNotes() {
  if (notesRefresh.running) {
    notesRefresh.again = true;
    return;
  }
  notesRefresh.running = true;
  clearTimeout(notesRefresh.timer);
  try {
    do {
      notesRefresh.again = false;
      await loadNotes();
    } while (notesRefresh.again);
  } finally {
    notesRefresh.running = false;
    notesRefresh.timer = setTimeout(refreshNotes, NOTES_REFRESH_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Add a note, read it back

/** Which server answered a request: Nginx's header, or (app run alone) the name from the last status. */
function serverOf(response) {
  return response.servedBy ?? state.status?.server ?? 'the app';
}

function showFormError(error) {
  const box = byId('form-error');
  const lines = detailLines(error.details);
  box.replaceChildren(
    el('strong', {}, error.message),
    lines.length > 0 ? el('ul', {}, ...lines.map((line) => el('li', {}, line))) : null,
  );
  box.hidden = false;
}

/** Says in words what the read-back demonstrates, so the result box is understandable without docs. */
function readbackExplanation(written, read) {
  const parts = [];
  if (serverOf(written) !== serverOf(read)) {
    parts.push(
      'A different app server answered the read and still saw the note: the consistency cookie carried the write’s position.',
    );
  }
  if (read.dbNode && read.dbNode !== 'none') {
    const node = state.status?.topology.find((candidate) => candidate.name === read.dbNode);
    if (node?.role === 'primary' || read.dbNode.includes('primary')) {
      parts.push('The read ran on the primary (see the fallback counters for why).');
    } else {
      parts.push('The read ran on a replica that had already applied the write.');
    }
  }
  return parts.join(' ');
}

function showReadback(kind, ...children) {
  const box = byId('readback');
  box.dataset.kind = kind;
  box.replaceChildren(...children);
  box.hidden = false;
}

async function addNote(event) {
  event.preventDefault();
  const form = byId('note-form');
  const titleInput = byId('note-title');
  const bodyInput = byId('note-body');
  const button = byId('add-note');
  const status = byId('form-status');

  byId('form-error').hidden = true;
  const title = titleInput.value.trim();
  if (title === '') {
    showFormError(new ApiError('Give the note a title.'));
    titleInput.focus();
    return;
  }

  button.disabled = true;
  status.textContent = 'Writing…';
  try {
    let written;
    try {
      written = await api('/api/notes', { method: 'POST', body: { title, body: bodyInput.value } });
    } catch (error) {
      // Nothing was written: keep what the person typed so they can retry.
      showFormError(error);
      return;
    }
    const note = written.data;
    state.freshNoteId = note.id;
    form.reset();
    titleInput.focus();
    const writeNode = written.dbNode && written.dbNode !== 'none' ? ` (${written.dbNode})` : '';
    const writeText = `Note #${note.id} written via ${serverOf(written)}${writeNode}`;

    status.textContent = 'Reading back…';
    try {
      const read = await api(`/api/notes/${encodeURIComponent(note.id)}`);
      const readNode = read.dbNode && read.dbNode !== 'none' ? ` from ${read.dbNode}` : '';
      showReadback(
        'ok',
        el(
          'p',
          { className: 'readback-headline' },
          `${writeText}, read back via ${serverOf(read)}${readNode}.`,
        ),
        el('p', { className: 'readback-title' }, 'Title read back: ', el('q', {}, read.data.title)),
        el('p', { className: 'muted small' }, readbackExplanation(written, read)),
      );
    } catch (error) {
      const where = error.servedBy
        ? ` via ${error.servedBy}${error.dbNode ? ` from ${error.dbNode}` : ''}`
        : '';
      showReadback(
        'warn',
        el(
          'p',
          { className: 'readback-headline' },
          `${writeText}, but reading it back${where} failed: ${error.message}`,
        ),
      );
    }
    refreshNotes();
  } finally {
    button.disabled = false;
    status.textContent = '';
  }
}

// ---------------------------------------------------------------------------------------------
// Start

byId('note-form').addEventListener('submit', addNote);
// The chart is drawn in pixels to keep its text crisp, so redraw it when its box changes size.
new ResizeObserver(() => {
  if (state.status) renderLagChart(state.status);
}).observe(byId('lag-chart'));

poll();
refreshNotes();
