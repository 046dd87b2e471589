// Server-sent events read with fetch(). EventSource cannot send an Authorization header, and a
// token in the URL would end up in logs and history, so the stream is fetched like any other API
// call (api.request adds the token) and parsed here by the text/event-stream rules of the HTML
// standard: "field: value" lines, a blank line ends an event, a line starting with ":" is a
// comment (jobsd's keep-alive). After a drop the stream reconnects by itself, sending
// Last-Event-ID = the id of the last event received, so no change is missed or repeated; waits
// between attempts start at 1 s and double up to 15 s. A 410 (the cursor is older than the
// server's retention) calls onGone, and the stream restarts from live changes.

import { ApiError, request } from './api.js';

export class EventStream {
  /**
   * @param {string} path e.g. "/v1/events?job=ID"
   * @param {{onEvent: Function, onOpen?: Function, onGone?: Function, onStatus?: Function}} handlers
   *   onEvent({id, type, data}) per event (data parsed as JSON); onOpen() each time the stream is
   *   (re)connected; onStatus(text) with "live", "reconnecting…" or an error.
   */
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.lastEventId = null;
    this.stopped = false;
    this.controller = null;
  }

  start() {
    this.run();
    return this;
  }

  /** Ends the stream for good (aborts the fetch in flight). */
  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async run() {
    let delay = 1000;
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        const headers = { Accept: 'text/event-stream' };
        if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
        const response = await request('GET', this.path, { headers, signal: this.controller.signal });
        if (response.status === 410 && this.lastEventId) {
          await response.body?.cancel();
          this.lastEventId = null;
          this.handlers.onGone?.();
          continue;
        }
        if (!response.ok) {
          let problem = null;
          try { problem = await response.json(); } catch { problem = null; }
          throw new ApiError(response.status, problem);
        }
        delay = 1000;
        this.handlers.onStatus?.('live');
        this.handlers.onOpen?.();
        await this.read(response.body);
      } catch (error) {
        if (this.stopped) return;
        this.handlers.onStatus?.(error instanceof ApiError ? `event stream: ${error.message}` : 'reconnecting…');
      }
      if (this.stopped) return;
      this.handlers.onStatus?.('reconnecting…');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let id = null;
    let type = 'message';
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (data.length > 0) this.dispatch(id, type, data.join('\n'));
          id = null;
          type = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let fieldValue = colon < 0 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
        if (field === 'id') id = fieldValue;
        else if (field === 'event') type = fieldValue;
        else if (field === 'data') data.push(fieldValue);
      }
    }
  }

  dispatch(id, type, text) {
    if (id !== null) this.lastEventId = id;
    let data;
    try { data = JSON.parse(text); } catch { return; }
    this.handlers.onEvent({ id, type, data });
  }
}
