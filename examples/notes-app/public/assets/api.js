// Talks to the notes app's JSON API and turns every failure into one kind of error (ApiError).

// A request that hangs must not freeze the poll loop, which waits for each poll to finish.
const REQUEST_TIMEOUT_MS = 5_000;
const RETRY_DELAY_MS = 200;

export class ApiError extends Error {
  constructor(message, { status = 0, details, servedBy = null, dbNode = null, writeNode = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.details = details;
    this.servedBy = servedBy;
    this.dbNode = dbNode;
    this.writeNode = writeNode;
  }
}

/**
 * Calls the JSON API and returns the body with the headers that say who answered. Sends cookies
 * (`same-origin`) because the app's read-your-writes token travels in one. Throws ApiError with the
 * API's own message on any failure, so callers show one kind of error.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const send = async () => {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { response, text: await response.text() };
  };
  let response;
  let text;
  try {
    try {
      ({ response, text } = await send());
    } catch (error) {
      // A read that never got an answer is sent once more: the browser drops requests in flight when
      // the machine's network changes (ERR_NETWORK_CHANGED), and a GET is safe to repeat. A write is not:
      // it may have been applied.
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      if (method !== 'GET' || timedOut) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      ({ response, text } = await send());
    }
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    throw new ApiError(timedOut ? 'The server did not answer in time' : 'Could not reach the server');
  }
  const meta = {
    status: response.status,
    servedBy: response.headers.get('X-Served-By'),
    // The node that answered the reads (a write's read-back included) and, on a write, the one that took it.
    dbNode: response.headers.get('X-DB-Node'),
    writeNode: response.headers.get('X-DB-Write-Node'),
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
export function detailLines(details) {
  if (details === undefined || details === null) return [];
  const items = Array.isArray(details) ? details : [details];
  return items.map((item) => {
    if (item && typeof item === 'object' && typeof item.message === 'string') {
      return item.path ? `${item.path}: ${item.message}` : item.message;
    }
    return typeof item === 'string' ? item : JSON.stringify(item);
  });
}
