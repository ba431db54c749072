// Entry point of the notes app's live dashboard: polls /api/status, draws what the answering app
// server sees, and lets a person add a note and watch where its write and read-back went. Plain DOM,
// no framework: every piece of server text goes in through textContent, so a note titled `<script>`
// is shown as text and never parsed as markup.

import { startAlerts } from './alerts.js';
import { ApiError, api, detailLines } from './api.js';
import { byId, el, serverShort, serverTone } from './dom.js';
import { renderLagChart } from './lag-chart.js';
import { renderRouting } from './routing.js';
import { renderTopology } from './topology.js';

const POLL_MS = 1_000;
// Back off when the stack is down so a dead load balancer is not hammered, but not so far that the
// page takes long to notice it came back.
const MAX_BACKOFF_MS = 8_000;
const NOTES_REFRESH_MS = 5_000;
const NOTES_LIMIT = 10;
const SERVER_HISTORY = 20;

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
  /** The alerts panel starts with the first status answer, which says whether a proxy served the page. */
  alertsStarted: false,
};

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
// Status polling

function renderStatus(status, servedBy) {
  state.status = status;
  state.countersByServer.set(status.server, { routing: status.routing, at: Date.now() });
  renderServedBy(servedBy);
  rememberServer(servedBy);
  renderTopology(status);
  renderLagChart(status);
  renderRouting(state.countersByServer, status.server);
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
      if (state.status) renderRouting(state.countersByServer, state.status.server);
      return;
    }
    state.failures = 0;
    if (!state.alertsStarted) {
      state.alertsStarted = true;
      startAlerts({ throughProxy: response.servedBy !== null });
    }
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
  // replaceChildren turns a null into the text "null": add the list only when there is one.
  const children = [el('strong', {}, error.message)];
  if (lines.length > 0) children.push(el('ul', {}, ...lines.map((line) => el('li', {}, line))));
  box.replaceChildren(...children);
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
    // The node that took the insert, not X-DB-Node: that names where the POST read its answer back.
    const writeNode = written.writeNode ? ` (${written.writeNode})` : '';
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
