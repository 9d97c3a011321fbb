// The keepup demo page: shows the live stream, acks what it draws (keepup-client.js), throttles
// this tab's link on the server, and charts the last 60 s. Plain ES module, no build step.
import { KeepupClient } from '/keepup/keepup-client.js';

const HEADER_BYTES = 16; // capture time (epoch ms, int64), rendition (int32), frame number (int32)
const SAMPLE_MS = 250;
const WINDOW_MS = 60_000;

const $ = (id) => document.getElementById(id);
const video = $('video');
const videoContext = video.getContext('2d');
const slider = $('throttle');
const steps = slider.dataset.steps.split(',');

/** The page's own view, for people (the readouts) and for tests (window.demoState). */
const state = {
  connection: 'connecting',
  tab: 0,
  ladder: [],
  cameraFps: 30,
  throttle: 'unlimited',   // what this tab asked for: 'unlimited' or Mbit/s as a string
  framesReceived: 0,
  framesRendered: 0,
  framesDropped: 0,         // superseded while a newer frame waited for the decoder
  bytesReceived: 0,
  rendition: -1,            // of the frame on screen
  renditionLabel: '',
  frameNumber: -1,
  fps: 0,                   // frames drawn over the last second
  ageMs: null,              // capture to drawn, for the frame on screen
  ageMaxMs: null,           // the oldest frame drawn during the last sample (null if none was)
  staleMs: null,            // how old the frame on screen is now
  receivedBps: 0,           // bits received over the last second
  server: null,             // the server's latest stats for this tab
  history: [],              // one sample every 250 ms over the last 60 s
  errors: [],
};
window.demoState = state;

const drawn = [];            // {at, bytes} of frames drawn in the last second
const arrived = [];          // {at, bytes} of frames received in the last second
let lastCapture = 0;
let sampleAgeMax = null;     // the oldest frame drawn since the last sample
let decoding = false;
let waiting = null;          // the newest frame waiting for the decoder

const client = new KeepupClient('/stream', {
  onOpen: () => setConnection('open'),
  onClose: (event) => setConnection(`closed (${event.code})`),
  onError: (error) => {
    state.errors.push(String(error?.message ?? error?.type ?? error));
    if (state.errors.length > 20) state.errors.shift();
  },
  onText: (text) => onServerText(text),
  onFrame: (data) => onFrame(data),
});

function setConnection(text) {
  state.connection = text;
  const badge = $('connection');
  badge.textContent = text;
  badge.className = 'badge ' + (text === 'open' ? 'open' : text.startsWith('closed') ? 'closed' : '');
}

function onServerText(text) {
  const message = JSON.parse(text);
  if (message.type === 'hello') {
    state.tab = message.tab;
    state.ladder = message.ladder;
    state.cameraFps = message.fps;
    document.title = `keepup live demo (tab #${message.tab})`;
  } else if (message.type === 'stats') {
    state.server = message;
  }
}

function onFrame(data) {
  const now = performance.now();
  state.framesReceived++;
  state.bytesReceived += data.byteLength;
  arrived.push({ at: now, bytes: data.byteLength });
  const view = new DataView(data);
  const frame = {
    capture: Number(view.getBigInt64(0)),
    rendition: view.getInt32(8),
    number: view.getInt32(12),
    jpeg: new Blob([new Uint8Array(data, HEADER_BYTES)], { type: 'image/jpeg' }),
  };
  if (decoding) {
    // Latest wins: a frame still waiting when a newer one comes is dropped, and counted as done.
    if (waiting !== null) {
      state.framesDropped++;
      client.rendered();
    }
    waiting = frame;
    return;
  }
  decode(frame);
}

async function decode(frame) {
  decoding = true;
  try {
    const bitmap = await createImageBitmap(frame.jpeg);
    videoContext.drawImage(bitmap, 0, 0, video.width, video.height);
    bitmap.close();
    const age = Date.now() - frame.capture;
    lastCapture = frame.capture;
    sampleAgeMax = Math.max(sampleAgeMax ?? age, age);
    drawn.push({ at: performance.now(), bytes: frame.jpeg.size });
    state.framesRendered++;
    state.ageMs = age;
    state.rendition = frame.rendition;
    state.renditionLabel = state.ladder[frame.rendition]?.label ?? String(frame.rendition);
    state.frameNumber = frame.number;
  } catch (error) {
    state.errors.push(`decode: ${error}`);
  } finally {
    client.rendered();
    decoding = false;
  }
  if (waiting !== null) {
    const next = waiting;
    waiting = null;
    decode(next);
  }
}

// The throttle: this tab's link on the server. The message is not an ack (acks start with "k1 ").
function readThrottle() {
  const step = steps[Number(slider.value)] ?? 'unlimited';
  state.throttle = step;
  $('throttle-value').textContent = step === 'unlimited' ? 'unlimited' : `${step} Mbit/s`;
  return step;
}
function sendThrottle() {
  const step = readThrottle();
  const value = step === 'unlimited' ? 'unlimited' : String(Math.round(Number(step) * 1e6));
  if (client.socket.readyState === WebSocket.OPEN) client.socket.send(`throttle ${value}`);
}
slider.addEventListener('input', sendThrottle);
// A new connection starts unlimited; a slider the browser restored on reload is applied on open.
readThrottle();
client.socket.addEventListener('open', () => { if (readThrottle() !== 'unlimited') sendThrottle(); });

function sample() {
  const now = performance.now();
  while (drawn.length && drawn[0].at < now - 1000) drawn.shift();
  while (arrived.length && arrived[0].at < now - 1000) arrived.shift();
  state.fps = drawn.length;
  state.receivedBps = arrived.reduce((sum, f) => sum + f.bytes, 0) * 8;
  state.ageMaxMs = sampleAgeMax;
  state.staleMs = lastCapture > 0 ? Date.now() - lastCapture : null;
  sampleAgeMax = null;
  const server = state.server;
  state.history.push({
    t: Date.now(),
    fps: state.fps,
    ageMs: state.ageMaxMs ?? state.ageMs, // for the chart: the last frame's age carries over
    drawnAgeMs: state.ageMaxMs,           // the oldest frame drawn in this sample, null if none
    framesRendered: state.framesRendered,
    rendition: state.rendition,
    estimateBps: server ? server.deliveryBps : null,
    throttleBps: server ? server.throttleBps : null,
    receivedBps: state.receivedBps,
    verdict: server ? server.verdict : null,
  });
  while (state.history.length && state.history[0].t < Date.now() - WINDOW_MS) state.history.shift();
  showReadouts();
  drawChart();
}
setInterval(sample, SAMPLE_MS);

function mbit(bps) {
  if (bps === null || bps === undefined) return '–';
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}

function showReadouts() {
  const server = state.server;
  const top = state.ladder.length - 1;
  $('r-rendition').textContent = state.rendition < 0 ? '–' : `${state.renditionLabel} (${state.rendition}/${top})`;
  $('r-fps').textContent = `${state.fps}` + (server ? ` / ${server.decisionFps}` : '');
  $('r-age').textContent = state.ageMs === null ? '–' : `${state.ageMs} ms`;
  $('r-bandwidth').textContent = server && server.deliveryBps > 0 ? mbit(server.deliveryBps) : '–';
  $('r-received').textContent = mbit(state.receivedBps);
  const verdict = $('r-verdict');
  verdict.textContent = server ? server.verdict.replace('_', ' ').toLowerCase() : '–';
  verdict.className = server ? server.verdict : '';
  $('r-reason').textContent = server ? `last decision: ${server.reason}` : '';
}

// The chart: four lanes over the last 60 s, drawn by hand on a canvas.
const chart = $('chart');
const chartContext = chart.getContext('2d');
const css = getComputedStyle(document.documentElement);
const colour = (name) => css.getPropertyValue(name).trim();

function drawChart() {
  const ratio = window.devicePixelRatio || 1;
  const width = chart.clientWidth;
  const height = chart.clientHeight;
  if (chart.width !== Math.round(width * ratio) || chart.height !== Math.round(height * ratio)) {
    chart.width = Math.round(width * ratio);
    chart.height = Math.round(height * ratio);
  }
  const g = chartContext;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);

  const left = 150;
  const right = width - 12;
  const axis = 18;
  const lanes = 4;
  const laneHeight = (height - axis - 8) / lanes;
  const now = Date.now();
  const x = (t) => left + (right - left) * (1 - (now - t) / WINDOW_MS);
  const history = state.history;
  const top = Math.max(state.ladder.length - 1, 1);
  const maxAge = Math.max(1000, ...history.map((h) => h.ageMs ?? 0));
  const maxFps = Math.max(state.cameraFps, ...history.map((h) => h.fps));
  const logMin = Math.log10(0.1e6);
  const logMax = Math.log10(200e6);
  const logY = (bps) => (Math.log10(Math.min(Math.max(bps, 0.1e6), 200e6)) - logMin) / (logMax - logMin);

  const last = history[history.length - 1];
  const laneSpecs = [
    { name: 'frame age', colour: colour('--age'), value: (h) => h.ageMs, y: (v) => v / maxAge,
      text: state.ageMs !== null ? `${state.ageMs} ms` : '–', grid: [[1000 / maxAge, '1 s']] },
    { name: 'frames / s', colour: colour('--fps'), value: (h) => h.fps, y: (v) => v / maxFps,
      text: last ? `${last.fps}` : '–', grid: [[30 / maxFps, '30'], [15 / maxFps, '15']] },
    { name: 'rendition', colour: colour('--rendition'), value: (h) => (h.rendition < 0 ? null : h.rendition),
      y: (v) => v / top, step: true,
      text: state.rendition >= 0 ? `${state.ladder[state.rendition]?.height ?? '?'}p` : '–',
      grid: state.ladder.map((r, i) => [i / top, `${r.height}p`]), gridFont: '10px system-ui, sans-serif' },
    { name: 'bandwidth', colour: colour('--bandwidth'), value: (h) => (h.estimateBps > 0 ? h.estimateBps : null),
      y: logY, text: last?.estimateBps > 0 ? mbit(last.estimateBps) : '–',
      grid: [[logY(1e6), '1M'], [logY(10e6), '10M'], [logY(100e6), '100M']] },
  ];

  g.font = '12px system-ui, sans-serif';
  g.textBaseline = 'middle';
  laneSpecs.forEach((lane, i) => {
    const y0 = 4 + i * laneHeight;
    const bottom = y0 + laneHeight - 6;
    const span = laneHeight - 14;
    const yOf = (v) => bottom - Math.max(0, Math.min(1, lane.y(v))) * span;
    // Lane frame and grid.
    g.strokeStyle = colour('--line');
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(left, bottom + 0.5);
    g.lineTo(right, bottom + 0.5);
    g.stroke();
    g.fillStyle = colour('--muted');
    g.textAlign = 'right';
    g.font = lane.gridFont ?? '12px system-ui, sans-serif';
    for (const [fraction, label] of lane.grid) {
      const gy = bottom - fraction * span;
      g.setLineDash([2, 4]);
      g.beginPath();
      g.moveTo(left, gy);
      g.lineTo(right, gy);
      g.stroke();
      g.setLineDash([]);
      g.fillText(label, left - 6, gy);
    }
    g.font = '12px system-ui, sans-serif';
    // Name and current value.
    g.textAlign = 'left';
    g.fillStyle = colour('--muted');
    g.fillText(lane.name, 10, y0 + 12);
    g.fillStyle = lane.colour;
    g.font = '600 15px system-ui, sans-serif';
    g.fillText(lane.text, 10, y0 + 32);
    g.font = '12px system-ui, sans-serif';

    if (i === 3) drawThrottle(g, history, x, yOf);
    if (i === 3) drawSeries(g, history, x, (h) => (h.receivedBps > 0 ? h.receivedBps : null), yOf, 'rgba(230,233,239,0.6)', false, 1.5);
    drawSeries(g, history, x, lane.value, yOf, lane.colour, lane.step, 2);
  });

  // Time axis.
  g.fillStyle = colour('--muted');
  g.textAlign = 'center';
  for (let s = 60; s >= 0; s -= 10) {
    g.fillText(s === 0 ? 'now' : `-${s}s`, x(now - s * 1000), height - axis / 2);
  }
  // Legend for the bandwidth lane, at its top right.
  g.textAlign = 'left';
  const y3 = 4 + 3 * laneHeight + 4;
  legend(g, right - 330, y3, colour('--bandwidth'), 'server estimate', false);
  legend(g, right - 200, y3, 'rgba(230,233,239,0.7)', 'received', false);
  legend(g, right - 100, y3, colour('--throttle'), 'link limit', true);
}

function legend(g, x0, y0, stroke, label, dashed) {
  g.strokeStyle = stroke;
  g.lineWidth = 2;
  g.setLineDash(dashed ? [5, 4] : []);
  g.beginPath();
  g.moveTo(x0, y0);
  g.lineTo(x0 + 18, y0);
  g.stroke();
  g.setLineDash([]);
  g.fillStyle = colour('--muted');
  g.fillText(label, x0 + 24, y0);
}

function drawSeries(g, history, x, value, yOf, stroke, step, width) {
  g.strokeStyle = stroke;
  g.lineWidth = width;
  g.beginPath();
  let pen = false;
  let previousY = 0;
  for (const h of history) {
    const v = value(h);
    if (v === null || v === undefined) { pen = false; continue; }
    const px = x(h.t);
    const py = yOf(v);
    if (!pen) g.moveTo(px, py);
    else if (step) { g.lineTo(px, previousY); g.lineTo(px, py); }
    else g.lineTo(px, py);
    pen = true;
    previousY = py;
  }
  g.stroke();
}

function drawThrottle(g, history, x, yOf) {
  g.save();
  g.setLineDash([5, 4]);
  drawSeries(g, history, x, (h) => (h.throttleBps > 0 ? h.throttleBps : null), yOf, colour('--throttle'), true, 2);
  g.restore();
}
