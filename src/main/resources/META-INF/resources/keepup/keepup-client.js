/**
 * keepup-client.js: the browser side of keepup's client acks (docs/protocol.md). Counts the
 * binary messages (frames) a WebSocket receives and tells the server, cumulatively, how many
 * arrived, when the last did, and how many the page rendered; a `PacedSender` built with
 * `clientAcks(true)` sees from that how far behind this client is. No dependencies; servlet
 * containers serve it from the keepup jar at `/keepup/keepup-client.js`.
 *
 * @example
 * import { KeepupClient } from '/keepup/keepup-client.js';
 * const client = new KeepupClient('/frames', {
 *   onFrame: async (data) => {
 *     ctx.drawImage(await createImageBitmap(new Blob([data], { type: 'image/jpeg' })), 0, 0);
 *     client.rendered(); // this frame is on screen
 *   },
 * });
 *
 * @module keepup-client
 */

const STATES = ['connecting', 'open', 'closing', 'closed'];
/** A rendered ack waits for the next animation frame, or this long where none come (hidden tabs). */
const RENDER_FLUSH_FALLBACK_MS = 100;

/**
 * @typedef {object} KeepupClientOptions
 * @property {(data: ArrayBuffer | Blob, index: number) => void} [onFrame] called for each binary
 *     message; `index` is its 1-based number since the socket opened (the received count).
 * @property {(text: string) => void} [onText] called for each text message from the server.
 * @property {(event: Event) => void} [onOpen] called when the socket opens.
 * @property {(event: CloseEvent) => void} [onClose] called once, when the socket has closed.
 * @property {(error: unknown) => void} [onError] called with the socket's `error` events and with
 *     whatever a callback or `WebSocket.send` threw. Default: `console.error`.
 * @property {number} [ackIntervalMs=0] at most one ack per this many milliseconds, carrying the
 *     latest counts and the arrival time of the latest frame. 0: an ack right after each frame,
 *     or after each burst of frames that arrive back to back.
 * @property {boolean} [acks=true] false: send no acks (the server has no `clientAcks(true)`).
 * @property {'arraybuffer' | 'blob'} [binaryType='arraybuffer'] how frames are delivered.
 * @property {string | string[]} [protocols] WebSocket subprotocols.
 * @property {typeof WebSocket} [WebSocket] the WebSocket class to use (tests pass a fake).
 */

/**
 * A WebSocket client that acknowledges the frames it receives and renders.
 *
 * Never throws into the socket's event loop: what a callback throws goes to `onError`. Acks are
 * cumulative, so the client coalesces them freely and holds at most one; one made before the
 * socket opens is sent on open. It does not reconnect: make a new client, whose counts start
 * at 0 again, as the server's do for the new session.
 */
export class KeepupClient {
  #ws;
  #opts;
  #n = { received: 0, rendered: -1, bytesReceived: 0, lastReceivedAt: 0, acksSent: 0, errors: 0 };
  /** The counts the last ack carried; an ack goes only when they change. */
  #acked = { received: 0, rendered: -1 };
  #lastAckAt = -Infinity;
  #ackTimer = 0;
  #renderFlushPending = false;
  #queuedAck = null;

  /**
   * Opens a WebSocket to `url`; an `http(s):` or relative URL is resolved against the page.
   *
   * @param {string | URL} url the server endpoint.
   * @param {KeepupClientOptions} [options]
   * @throws {SyntaxError} if the URL is invalid.
   */
  constructor(url, options = {}) {
    this.#opts = { ackIntervalMs: 0, acks: true, binaryType: 'arraybuffer', ...options };
    const WebSocketClass = this.#opts.WebSocket ?? globalThis.WebSocket;
    const ws = new WebSocketClass(toWebSocketUrl(url), this.#opts.protocols);
    ws.binaryType = this.#opts.binaryType;
    ws.onopen = (event) => {
      if (this.#queuedAck !== null) this.#send(this.#queuedAck);
      this.#queuedAck = null;
      this.#call(this.#opts.onOpen, event);
    };
    ws.onmessage = (event) => this.#onMessage(event);
    ws.onerror = (event) => this.#report(event, false);
    ws.onclose = (event) => {
      this.#cancelAcks();
      this.#call(this.#opts.onClose, event);
    };
    this.#ws = ws;
  }

  /**
   * Reports that the application has rendered (or deliberately dropped) `count` more frames, in
   * order; the ack goes by the next animation frame (or per `ackIntervalMs`). The server reads
   * received minus rendered as this client's own lag, so count every frame the application is
   * done with. Counts beyond the frames received are held back until those arrive.
   *
   * @param {number} [count=1] a non-negative integer.
   * @throws {RangeError} if `count` is not a non-negative integer.
   */
  rendered(count = 1) {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`count must be a non-negative integer: ${count}`);
    }
    this.#n.rendered = Math.max(this.#n.rendered, 0) + count;
    if (this.#renderFlushPending || !this.#opts.acks) return;
    this.#renderFlushPending = true;
    const flush = () => {
      if (!this.#renderFlushPending) return;
      this.#renderFlushPending = false;
      this.#ackSoon();
    };
    globalThis.requestAnimationFrame?.(flush);
    setTimeout(flush, RENDER_FLUSH_FALLBACK_MS);
  }

  /**
   * Closes the socket and drops pending acks; idempotent.
   *
   * @throws {DOMException} if `code` or `reason` is invalid, as `WebSocket.close` does.
   */
  close(code = 1000, reason = '') {
    this.#cancelAcks();
    this.#ws.close(code, reason);
  }

  /** @returns {WebSocket} the underlying socket, for the application's own text messages. */
  get socket() {
    return this.#ws;
  }

  /**
   * @returns {{state: string, received: number, rendered: number, bytesReceived: number,
   *     lastReceivedAt: number, acksSent: number, errors: number}} a snapshot: `state` is
   *     'connecting', 'open', 'closing' or 'closed'; `rendered` is -1 if never reported;
   *     `lastReceivedAt` is `performance.now()` at the last arrival (0 if none).
   */
  get stats() {
    return { state: STATES[this.#ws.readyState] ?? 'closed', ...this.#n };
  }

  #onMessage(event) {
    const data = event.data;
    if (typeof data === 'string') {
      this.#call(this.#opts.onText, data);
      return;
    }
    const n = this.#n;
    n.lastReceivedAt = performance.now();
    n.received++;
    n.bytesReceived += data?.byteLength ?? data?.size ?? 0;
    // onFrame first: an application that renders synchronously gets one ack per frame.
    this.#call(this.#opts.onFrame, data, n.received);
    this.#ackSoon();
  }

  /**
   * Acks in a timer task, once `ackIntervalMs` has passed since the last ack; the latest counts
   * win. Even with no interval the ack waits for that task, which runs after the messages
   * already queued: a page that drains a backlog after a stall sends one ack, not a burst the
   * server would shed as a flood.
   */
  #ackSoon() {
    if (!this.#opts.acks || this.#ackTimer) return;
    const wait = this.#opts.ackIntervalMs > 0
      ? this.#lastAckAt + this.#opts.ackIntervalMs - performance.now() : 0;
    this.#ackTimer = setTimeout(() => { this.#ackTimer = 0; this.#ack(); }, Math.max(0, wait));
  }

  #ack() {
    const { received, lastReceivedAt } = this.#n;
    const rendered = this.#n.rendered < 0 ? -1 : Math.min(this.#n.rendered, received);
    if (received === 0 || (received === this.#acked.received && rendered === this.#acked.rendered)) {
      return;
    }
    const text = `k1 ${received} ${lastReceivedAt.toFixed(3)} ${rendered}`;
    this.#acked = { received, rendered };
    this.#lastAckAt = performance.now();
    if (this.#ws.readyState === 0) this.#queuedAck = text; // cumulative: only the latest matters
    else this.#send(text);
  }

  #send(text) {
    if (this.#ws.readyState !== 1) return;
    try {
      this.#ws.send(text);
      this.#n.acksSent++;
    } catch (error) {
      this.#report(error, true);
    }
  }

  #cancelAcks() {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = 0;
    this.#renderFlushPending = false;
    this.#queuedAck = null;
  }

  #call(callback, ...args) {
    if (typeof callback !== 'function') return;
    try {
      const result = callback(...args);
      // An async callback rejects instead of throwing.
      if (typeof result?.catch === 'function') result.catch((error) => this.#report(error, true));
    } catch (error) {
      this.#report(error, true);
    }
  }

  #report(error, thrown) {
    if (thrown) this.#n.errors++;
    try {
      if (typeof this.#opts.onError === 'function') this.#opts.onError(error);
      else console.error('keepup-client:', error);
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  }
}

function toWebSocketUrl(url) {
  const base = globalThis.location?.href;
  const parsed = base === undefined ? new URL(url) : new URL(url, base);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  return parsed.href;
}
