// The Node `ws` client doing the benchmark cycle, written the way its users write it
// (default options): connect, open, send one text message, await its echo, close.
//   node bench/node_client.js --url ws://127.0.0.1:PORT/ --sequential N
//   node bench/node_client.js --url ws://127.0.0.1:PORT/ --concurrent C --cycles N
//   node bench/node_client.js --url ws://127.0.0.1:PORT/ --hold N
// Prints one JSON object on stdout, the schema shared with raw_client.cpp and py_client.py.
'use strict';
const WebSocket = require('ws');

const HOLD_HANDSHAKES_IN_FLIGHT = 500;  // the same in raw_client.cpp and py_client.py

function parseArgs(argv) {
  const o = { url: '', mode: '', count: 0, concurrency: 1, payload: 'hello' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--url') o.url = next();
    else if (a === '--sequential' || a === '--hold') { o.mode = a.slice(2); o.count = Number(next()); }
    else if (a === '--concurrent') { o.mode = 'concurrent'; o.concurrency = Number(next()); }
    else if (a === '--cycles') o.count = Number(next());
    else if (a === '--payload') o.payload = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url || !o.mode || !(o.count > 0)) {
    throw new Error('usage: --url URL (--sequential N | --concurrent C --cycles N | --hold N)');
  }
  return o;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function quantile(v, q) {
  if (v.length === 0) return 0;
  const s = Float64Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))];
}
const summary = (v) => ({ count: v.length, p50: quantile(v, 0.5), p99: quantile(v, 0.99) });

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// One cycle; records its samples in `s`. Rejects on any failure.
async function cycle(o, s) {
  const t0 = nowMs();
  const ws = await open(o.url);
  const tOpen = nowMs();
  const echo = await new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(data.toString()));
    ws.once('error', reject);
    ws.send(o.payload);
  });
  const tEcho = nowMs();
  if (echo !== o.payload) throw new Error('echo mismatch');
  s.handshake.push(tOpen - t0);
  s.rtt.push(tEcho - tOpen);
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close(1000);
  });
}

async function runCycles(o, width) {
  const s = { handshake: [], rtt: [], cycles: 0, errors: 0 };
  let started = 0;
  const worker = async () => {
    while (started < o.count) {
      started++;
      try {
        await cycle(o, s);
        s.cycles++;
      } catch (e) {
        s.errors++;
      }
    }
  };
  const start = nowMs();
  await Promise.all(Array.from({ length: Math.min(width, o.count) }, worker));
  const seconds = (nowMs() - start) / 1000;
  return {
    client: 'node', mode: o.mode, concurrency: width, cycles: s.cycles, errors: s.errors,
    duration_s: seconds, cycles_per_s: s.cycles / seconds,
    handshake_ms: summary(s.handshake), rtt_ms: summary(s.rtt),
  };
}

async function runHold(o) {
  const held = [];
  const handshake = [];
  let errors = 0;
  let started = 0;
  const worker = async () => {
    while (started < o.count) {
      started++;
      const t0 = nowMs();
      try {
        const ws = await open(o.url);
        ws.on('error', () => {});
        handshake.push(nowMs() - t0);
        held.push(ws);
      } catch (e) {
        errors++;
      }
    }
  };
  const start = nowMs();
  await Promise.all(Array.from({ length: Math.min(HOLD_HANDSHAKES_IN_FLIGHT, o.count) }, worker));
  const seconds = (nowMs() - start) / 1000;
  process.stdout.write(JSON.stringify({
    client: 'node', mode: 'hold', open: held.length, errors, duration_s: seconds,
    handshake_ms: summary(handshake),
  }) + '\n');
  const release = () => { for (const ws of held) ws.terminate(); process.exit(0); };
  process.stdin.on('end', release);
  process.stdin.on('error', release);
  process.stdin.resume();
  process.on('SIGTERM', release);
  process.on('SIGINT', release);
}

async function main() {
  const o = parseArgs(process.argv);
  if (o.mode === 'hold') return runHold(o);
  const width = o.mode === 'sequential' ? 1 : o.concurrency;
  const r = await runCycles(o, width);
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
}

main().catch((e) => { process.stderr.write(`node_client: ${e.message}\n`); process.exit(2); });
