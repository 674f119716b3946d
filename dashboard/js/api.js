// Talking to the control port: the token (kept in this tab's session storage), JSON calls that
// turn every failure into an Error carrying the API's message, and the live stream.

const TOKEN_KEY = 'ringcast.controlToken';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function authHeaders() {
  const token = getToken();
  return token === '' ? {} : { Authorization: `Bearer ${token}` };
}

/** A failed call: `status` is the HTTP status (0 = no answer), the message is the API's own. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls a control route and returns the `data` of its `{code, message, data}` answer; throws an
 * ApiError with "HTTP <status>: <message>" for any refusal, or with the network error.
 */
export async function api(method, path, query = {}, body = undefined) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.append(k, String(v));
  const url = params.size > 0 ? `${path}?${params}` : path;
  let res;
  try {
    res = await fetch(url, { method, headers: authHeaders(), body, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, `cannot reach the control port: ${err.message}`);
  }
  let reply = null;
  try {
    reply = await res.json();
  } catch {
    // not JSON: reported below with the status
  }
  if (!res.ok || reply === null || reply.code !== 0) {
    const message = reply !== null && typeof reply.message === 'string' && reply.message !== '' ? reply.message : res.statusText || 'no message';
    throw new ApiError(res.status, `HTTP ${res.status}: ${message}`);
  }
  return reply.data;
}

/** Whether this tab may see the data: {tokenRequired, authorized, readOnly?}. Never a 401. */
export function session() {
  return api('GET', '/dashboard/session');
}

/**
 * GET /dashboard/stream, read with fetch (EventSource cannot send the bearer token) and parsed as
 * Server-Sent Events. Reconnects 2 s after a loss; a 401 hands back to the token prompt.
 */
export class LiveStream {
  constructor({ onHello, onTick, onState, onUnauthorized }) {
    this.handlers = { onHello, onTick, onState, onUnauthorized };
    this.abort = null;
    this.retry = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    void this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    this.abort?.abort();
  }

  async connect() {
    const h = this.handlers;
    this.abort = new AbortController();
    h.onState('connecting', '');
    try {
      const res = await fetch('/dashboard/stream', { headers: authHeaders(), signal: this.abort.signal, cache: 'no-store' });
      if (res.status === 401) {
        this.stopped = true;
        h.onUnauthorized();
        return;
      }
      if (!res.ok) {
        const text = await res.text();
        let message = text;
        try {
          message = JSON.parse(text).message;
        } catch {
          // plain text
        }
        throw new Error(`HTTP ${res.status}: ${message}`);
      }
      h.onState('live', '');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          this.dispatch(buf.slice(0, end));
          buf = buf.slice(end + 2);
        }
      }
      throw new Error('the server closed the stream');
    } catch (err) {
      if (this.stopped) return;
      h.onState('lost', err.message);
      this.retry = setTimeout(() => void this.connect(), 2000);
    }
  }

  dispatch(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
    if (data.length === 0) return;
    const value = JSON.parse(data.join('\n'));
    if (event === 'hello') this.handlers.onHello(value);
    else this.handlers.onTick(value);
  }
}
