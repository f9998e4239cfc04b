#!/usr/bin/env node
'use strict';
// graphql-ws test peer (subprotocol graphql-transport-ws) on any path.
//   query { hello }                      -> one next (after --delay-ms) then complete
//   subscription { count(to: N) }        -> N nexts {"count":1..N}, each after --delay-ms, then complete
// With --ping-interval-ms > 0 the server also sends {"type":"ping"} that often (the client
// should answer {"type":"pong"}); 0 (default) sends none.
const http = require('http');
const { WebSocketServer } = require('ws');
const { useServer } = require('graphql-ws/lib/use/ws');
const { buildSchema } = require('graphql');
const { parseArgs, delay, announce, exitCleanly } = require('./common');

const opts = parseArgs({ delayMs: 0, pingIntervalMs: 0 });

const schema = buildSchema(`
  type Query { hello: String }
  type Subscription { count(to: Int!): Int }
`);
const roots = {
  query: { hello: async () => { await delay(opts.delayMs); return 'world'; } },
  subscription: {
    count: async function* count({ to }) {
      for (let i = 1; i <= to; i++) {
        await delay(opts.delayMs);
        yield { count: i };
      }
    },
  },
};

const httpServer = http.createServer();
const wss = new WebSocketServer({ server: httpServer });
useServer({ schema, roots }, wss);

if (opts.pingIntervalMs > 0) {
  wss.on('connection', (socket) => {
    const timer = setInterval(() => socket.send(JSON.stringify({ type: 'ping' })), opts.pingIntervalMs);
    socket.on('close', () => clearInterval(timer));
  });
}

httpServer.listen(0, '127.0.0.1', () => announce(httpServer));
exitCleanly(() => new Promise((resolve) => {
  for (const client of wss.clients) client.terminate();
  wss.close(() => httpServer.close(resolve));
}));
