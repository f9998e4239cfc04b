#!/usr/bin/env node
'use strict';
// Socket.IO v4 test peer. Handshake at /socket.io/?EIO=4&transport=websocket.
//   event "chat" with an ack:  42N["chat",X]  ->  (after --delay-ms)  43N[{"echo":X}]
//   event "chat" without ack:  42["chat",X]   ->  (after --delay-ms)  42["chat",{"echo":X}]
// The server pings ("2") every --ping-interval-ms and drops a client that has not answered
// "3" within --ping-timeout-ms. --drop-acks 1: a misbehaving server that never acknowledges.
const http = require('http');
const { Server } = require('socket.io');
const { parseArgs, delay, announce, exitCleanly } = require('./common');

const opts = parseArgs({ delayMs: 0, pingIntervalMs: 25000, pingTimeoutMs: 20000, dropAcks: 0 });
const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: opts.pingIntervalMs,
  pingTimeout: opts.pingTimeoutMs,
  cors: { origin: '*' },
});

io.on('connection', (socket) => {
  socket.on('chat', async (message, ack) => {
    await delay(opts.delayMs);
    if (opts.dropAcks) return;
    if (typeof ack === 'function') ack({ echo: message });
    else socket.emit('chat', { echo: message });
  });
});

httpServer.listen(0, '127.0.0.1', () => announce(httpServer));
exitCleanly(() => new Promise((resolve) => io.close(resolve)));
