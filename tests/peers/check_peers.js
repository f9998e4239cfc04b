#!/usr/bin/env node
'use strict';
// Self-check of the protocol peers: starts each server with --delay-ms (default 100), runs one
// exchange with the protocol's own client library and measures the reply delay, then replays the
// exchange with a raw `ws` client and prints every frame (the transcripts in README.md).
// Usage: node check_peers.js [--delay-ms N] [--samples N]. Exit 0 when every measured median is
// within [delay - 1 ms, delay + 1% + 5 ms] and every raw exchange got its expected replies.
const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');
const WebSocket = require('ws');
const { parseArgs } = require('./common');

const opts = parseArgs({ delayMs: 100, samples: 5 });
const failures = [];
const now = () => Number(process.hrtime.bigint()) / 1e6;

// Starts `script` with `args` and resolves { port, child } at its READY line.
function startServer(script, args) {
  const child = spawn(process.execPath, [path.join(__dirname, script), ...args],
                      { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script}: no READY line in 10 s`)), 10000);
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = /^READY (\d+)$/.exec(line);
      if (m) resolve({ port: Number(m[1]), child });
      else reject(new Error(`${script}: unexpected first line '${line}'`));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before READY`)));
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    server.child.once('exit', resolve);
    server.child.stdin.end(); // the peers exit when stdin closes
  });
}

function report(name, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  // Inter-arrival times (subscription nexts) may come in slightly under the delay.
  const ok = median >= opts.delayMs - 1 && median <= opts.delayMs * 1.01 + 5;
  console.log(`  ${name}: median ${median.toFixed(2)} ms (min ${sorted[0].toFixed(2)}, ` +
              `max ${sorted[sorted.length - 1].toFixed(2)}, n=${samples.length}) ${ok ? 'ok' : 'FAIL'}`);
  if (!ok) failures.push(name);
}

// A raw WebSocket client that prints every frame with its time since the connection opened.
// `wait(pred)` resolves with the first received frame (text or Buffer) for which pred is true.
function rawClient(url, protocols) {
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
  let t0 = now();
  const queue = [];
  const waiters = [];
  const show = (data, isBinary) => (isBinary ? `[binary ${data.length}] ${data.toString('hex')}` : data.toString());
  ws.on('upgrade', (res) => {
    t0 = now();
    const proto = res.headers['sec-websocket-protocol'];
    console.log(`    ${'0.0'.padStart(7)} ms  << HTTP ${res.statusCode}${proto ? ` Sec-WebSocket-Protocol: ${proto}` : ''}`);
  });
  ws.on('message', (data, isBinary) => {
    console.log(`    ${(now() - t0).toFixed(1).padStart(7)} ms  << ${show(data, isBinary)}`);
    const msg = isBinary ? data : data.toString();
    const i = waiters.findIndex((w) => w.pred(msg));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else queue.push(msg);
  });
  ws.on('close', (code, reason) => {
    console.log(`    ${(now() - t0).toFixed(1).padStart(7)} ms  << close ${code}${reason.length ? ' ' + reason : ''}`);
    for (const w of waiters.splice(0)) w.reject(new Error(`closed (${code}) while waiting`));
  });
  return {
    ws,
    opened: new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }),
    closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))),
    send(data) {
      console.log(`    ${(now() - t0).toFixed(1).padStart(7)} ms  >> ${show(Buffer.from(data), Buffer.isBuffer(data))}`);
      ws.send(data);
    },
    wait(pred, what, ms = 5000) {
      const i = queue.findIndex(pred);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve, reject };
        waiters.push(w);
        setTimeout(() => {
          const k = waiters.indexOf(w);
          if (k >= 0) { waiters.splice(k, 1); reject(new Error(`no ${what} within ${ms} ms`)); }
        }, ms);
      });
    },
  };
}

async function check(title, fn) {
  console.log(`== ${title}`);
  try {
    await fn();
  } catch (e) {
    console.log(`  FAIL: ${e.message}`);
    failures.push(title);
  }
}

async function socketio() {
  const { io } = require('socket.io-client');
  const server = await startServer('socketio_server.js',
                                   ['--delay-ms', `${opts.delayMs}`, '--ping-interval-ms', '500', '--ping-timeout-ms', '300']);
  try {
    console.log('  library (socket.io-client, websocket transport): emitWithAck("chat")');
    const socket = io(`http://127.0.0.1:${server.port}`, { transports: ['websocket'] });
    await new Promise((resolve) => socket.once('connect', resolve));
    const samples = [];
    for (let i = 0; i < opts.samples; i++) {
      const t = now();
      await socket.emitWithAck('chat', `m${i}`);
      samples.push(now() - t);
    }
    socket.close();
    report('socket.io ack', samples);

    console.log('  raw frames: open, namespace connect, event with ack, event without ack, ping/pong');
    const url = `ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`;
    const c = rawClient(url);
    await c.opened;
    await c.wait((m) => m.startsWith('0{'), 'open packet');
    c.send('40');
    await c.wait((m) => m.startsWith('40'), 'namespace connect');
    c.send('421["chat","hello"]');
    await c.wait((m) => m.startsWith('431['), 'ack');
    c.send('42["chat","no ack"]');
    await c.wait((m) => m.startsWith('42['), 'event');
    for (let i = 0; i < 2; i++) {
      await c.wait((m) => m === '2', 'ping');
      c.send('3');
    }
    c.send('41');
    c.ws.close(1000);
    await c.closed;

    console.log('  raw frames: a client that never answers "2" with "3" is dropped');
    const d = rawClient(url);
    await d.opened;
    d.send('40');
    const t = now();
    const code = await Promise.race([d.closed, new Promise((r) => setTimeout(() => r('none'), 5000))]);
    console.log(`  dropped after ${(now() - t).toFixed(0)} ms (close code ${code}); expected about ping interval + ping timeout = 800 ms`);
    if (code === 'none') throw new Error('the server did not drop a client that ignores pings');
  } finally {
    await stopServer(server);
  }
}

async function graphqlWs() {
  const { createClient } = require('graphql-ws');
  const server = await startServer('graphql_ws_server.js', ['--delay-ms', `${opts.delayMs}`, '--ping-interval-ms', '300']);
  try {
    console.log('  library (graphql-ws client): query { hello }, subscription { count(to: 3) }');
    const client = createClient({ url: `ws://127.0.0.1:${server.port}/graphql`, webSocketImpl: WebSocket, lazy: false });
    await new Promise((resolve) => client.on('connected', resolve));
    const query = [];
    const nexts = [];
    for (let i = 0; i < opts.samples; i++) {
      let t = now();
      await new Promise((resolve, reject) => client.subscribe({ query: '{ hello }' },
        { next: () => query.push(now() - t), error: reject, complete: resolve }));
      t = now();
      await new Promise((resolve, reject) => client.subscribe({ query: 'subscription { count(to: 3) }' },
        { next: () => { const n = now(); nexts.push(n - t); t = n; }, error: reject, complete: resolve }));
    }
    await client.dispose();
    report('graphql-ws query result', query);
    report('graphql-ws subscription next (each)', nexts);

    console.log('  raw frames: init/ack, ping/pong both ways, subscription, query, complete by client');
    const c = rawClient(`ws://127.0.0.1:${server.port}/graphql`, 'graphql-transport-ws');
    await c.opened;
    const type = (t) => (m) => JSON.parse(m).type === t;
    c.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await c.wait(type('connection_ack'), 'connection_ack');
    c.send(JSON.stringify({ type: 'ping' }));
    await c.wait(type('pong'), 'pong');
    c.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { count(to: 3) }' } }));
    await c.wait((m) => JSON.parse(m).type === 'complete' && JSON.parse(m).id === '1', 'complete');
    await c.wait(type('ping'), 'server ping');
    c.send(JSON.stringify({ type: 'pong' }));
    c.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: 'query Q { hello }' } }));
    await c.wait((m) => JSON.parse(m).type === 'complete' && JSON.parse(m).id === '2', 'complete');
    c.send(JSON.stringify({ id: '3', type: 'subscribe', payload: { query: 'subscription { count(to: 100) }' } }));
    await c.wait((m) => JSON.parse(m).type === 'next' && JSON.parse(m).id === '3', 'next');
    c.send(JSON.stringify({ id: '3', type: 'complete' }));
    c.send(JSON.stringify({ id: '4', type: 'subscribe', payload: { query: '{ nope }' } }));
    await c.wait(type('error'), 'error');
    c.ws.close(1000);
    await c.closed;
  } finally {
    await stopServer(server);
  }
}

async function jsonrpc() {
  const { Client } = require('rpc-websockets');
  const server = await startServer('jsonrpc_server.js', ['--delay-ms', `${opts.delayMs}`]);
  try {
    console.log('  library (rpc-websockets Client): call("sum", [i, 1])');
    const client = new Client(`ws://127.0.0.1:${server.port}`, { autoconnect: true, reconnect: false });
    await new Promise((resolve) => client.once('open', resolve));
    const samples = [];
    for (let i = 0; i < opts.samples; i++) {
      const t = now();
      await client.call('sum', [i, 1]);
      samples.push(now() - t);
    }
    const t = now();
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.call('sum', [i, 1])));
    const pipelined = now() - t;
    client.close();
    report('json-rpc response', samples);
    console.log(`  10 pipelined calls answered in ${pipelined.toFixed(2)} ms (concurrent: about one delay)`);

    console.log('  raw frames: 10 pipelined calls (replies matched by id), a notification, errors');
    const c = rawClient(`ws://127.0.0.1:${server.port}/`);
    await c.opened;
    for (let i = 1; i <= 10; i++) c.send(JSON.stringify({ jsonrpc: '2.0', method: 'sum', params: [i, 100], id: i }));
    for (let i = 1; i <= 10; i++) await c.wait((m) => JSON.parse(m).id === i, `response ${i}`);
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: ['out of order'], id: 'b' }));
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'sleep', params: [50], id: 'a' }));
    await c.wait((m) => JSON.parse(m).id === 'a', 'response a');
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: ['notification: no reply'] }));
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'nope', id: 11 }));
    await c.wait((m) => JSON.parse(m).id === 11, 'error 11');
    c.send('{not json');
    await c.wait((m) => JSON.parse(m).error && JSON.parse(m).id === null, 'parse error');
    c.ws.close(1000);
    await c.closed;
  } finally {
    await stopServer(server);
  }
}

// MQTT 3.1.1 packets built by hand (the C++ side will have to send exactly these bytes).
const str = (s) => Buffer.concat([Buffer.from([s.length >> 8, s.length & 255]), Buffer.from(s)]);
const packet = (type, body) => Buffer.concat([Buffer.from([type, body.length]), body]); // remaining length < 128
const mqttPackets = {
  connect: packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([0x04, 0x02, 0x00, 0x3c]), str('wslat-1')])),
  subscribe: packet(0x82, Buffer.concat([Buffer.from([0x00, 0x01]), str('wslat/t'), Buffer.from([0x00])])),
  publish0: packet(0x30, Buffer.concat([str('wslat/t'), Buffer.from('hello')])),
  publish1: packet(0x32, Buffer.concat([str('wslat/t'), Buffer.from([0x00, 0x02]), Buffer.from('qos1')])),
  pingreq: Buffer.from([0xc0, 0x00]),
  disconnect: Buffer.from([0xe0, 0x00]),
};

async function mqttWs() {
  const mqtt = require('mqtt');
  const server = await startServer('mqtt_ws_server.js', ['--delay-ms', `${opts.delayMs}`]);
  try {
    console.log('  library (mqtt.js over ws, MQTT 3.1.1): publish to self, time to the delivered message');
    const client = mqtt.connect(`ws://127.0.0.1:${server.port}`, { protocolVersion: 4, reconnectPeriod: 0 });
    await new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
    await client.subscribeAsync('check/t');
    const samples = [];
    for (let i = 0; i < opts.samples; i++) {
      const t = now();
      const got = new Promise((resolve) => client.once('message', resolve));
      client.publish('check/t', `m${i}`);
      await got;
      samples.push(now() - t);
    }
    await client.endAsync();
    report('mqtt publish delivered back', samples);

    console.log('  raw frames (binary, hex): CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH QoS 0 and 1, PINGREQ, DISCONNECT');
    const c = rawClient(`ws://127.0.0.1:${server.port}/`, 'mqtt');
    await c.opened;
    const first = (byte) => (m) => Buffer.isBuffer(m) && m[0] === byte;
    c.send(mqttPackets.connect);
    await c.wait(first(0x20), 'CONNACK');
    c.send(mqttPackets.subscribe);
    await c.wait(first(0x90), 'SUBACK');
    c.send(mqttPackets.publish0);
    await c.wait(first(0x30), 'PUBLISH');
    c.send(mqttPackets.publish1);
    await c.wait(first(0x40), 'PUBACK');
    await c.wait(first(0x30), 'PUBLISH');
    c.send(mqttPackets.pingreq);
    await c.wait(first(0xd0), 'PINGRESP');
    c.send(mqttPackets.disconnect);
    await c.closed;
  } finally {
    await stopServer(server);
  }
}

(async () => {
  console.log(`node ${process.version}, injected delay ${opts.delayMs} ms`);
  await check('Socket.IO v4 (socket.io)', socketio);
  await check('graphql-ws (graphql-transport-ws)', graphqlWs);
  await check('JSON-RPC 2.0 (rpc-websockets)', jsonrpc);
  await check('MQTT 3.1.1 over WebSocket (aedes + websocket-stream)', mqttWs);
  console.log(failures.length ? `FAILED: ${failures.join(', ')}` : 'all peers ok');
  process.exit(failures.length ? 1 : 0);
})();
