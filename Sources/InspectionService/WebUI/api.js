// The documented REST API (/api/v1, described at /api/v1/openapi.json) with the signed-in key as a Bearer header.
// The server's roles, each allowed what the ones below it are.
const RANK = { operator: 0, expert: 1, admin: 2 };
export function hasRole(me, role) { return (RANK[me?.role] ?? -1) >= RANK[role]; }

export class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export class API {
  constructor(key) { this.key = key; }

  headers(extra = {}) { return { Authorization: `Bearer ${this.key}`, ...extra }; }

  async request(method, path, body, contentType = 'application/json') {
    const init = { method, headers: this.headers() };
    if (body !== undefined) {
      init.body = contentType === 'application/json' ? JSON.stringify(body) : body;
      init.headers['Content-Type'] = contentType;
    }
    const response = await fetch(path, init);
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try { message = JSON.parse(text).error?.message ?? JSON.parse(text).message ?? text; } catch { /* plain text */ }
      throw new APIError(response.status, `${response.status}: ${message}`);
    }
    return text ? JSON.parse(text) : null;
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body); }

  // A stored image as an object URL (an <img> cannot send the key); the caller revokes it.
  async blobURL(url) {
    const response = await fetch(url, { headers: this.headers() });
    if (!response.ok) throw new APIError(response.status, `${response.status} for ${url}`);
    return URL.createObjectURL(await response.blob());
  }

  // Server-sent events read from a fetch stream (EventSource cannot send the key). Yields {event, id, data}.
  // `onOpen` runs once the server has answered (its stream's starting point is then fixed).
  async *events(path, signal, lastEventId, onOpen) {
    const headers = this.headers({ Accept: 'text/event-stream' });
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const response = await fetch(path, { headers, signal });
    if (!response.ok) throw new APIError(response.status, `${response.status} for ${path}`);
    onOpen?.();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let message = { event: 'message', id: null, data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (message.data.length) yield { event: message.event, id: message.id, data: message.data.join('\n') };
          message = { event: 'message', id: null, data: [] };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') message.event = text;
          else if (field === 'id') message.id = text;
          else if (field === 'data') message.data.push(text);
        }
      }
    }
  }
}
