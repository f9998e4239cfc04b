// The third-party target: an echo server on npm `ws` with its defaults, as its users run it.
//   node bench/node_server.js [--port 0] [--host 127.0.0.1]
// Prints "listening on ws://HOST:PORT/" as its first stdout line (the same contract as
// `wslat serve`), echoes every message with its type, and stops on SIGTERM/SIGINT or stdin EOF.
'use strict';
const { WebSocketServer } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg('--host', '127.0.0.1');
// A backlog as deep as the kernel allows, so a burst of connects is not the server's limit.
const wss = new WebSocketServer({ host, port: Number(arg('--port', '0')), backlog: 4096 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  process.stdout.write(`listening on ws://${host}:${wss.address().port}/\n`);
});

function stop() {
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
