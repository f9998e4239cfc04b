#!/usr/bin/env node
'use strict';
// Socket.IO v4 test peer. Handshake at /socket.io/?EIO=4&transport=websocket.
//   event "chat" with an ack:  42N["chat",X]  ->  (after --delay-ms)  43N[{"echo":X}]
//   event "chat" without ack:  42["chat",X]   ->  (after --delay-ms)  42["chat",{"echo":X}]
// The server pings ("2") every --ping-interval-ms and drops a client that has not answered
// "3" within --ping-timeout-ms. --drop-acks 1: a misbehaving server that never acknowledges.
// Rooms (delivery latency):
//   42["join",{"room":R,"member":C}]  puts the socket in room R; when the room has --room-size
//                                     members, every member gets 42["ready",{"room":R}]
//   42["say",{"id":I,"text":T}]       (after --delay-ms) 42["chat",{"id":I,"text":T}] to the
//                                     room's other members, except member --skip-member C
//                                     (-1: none), which never gets a chat (a dropped delivery)
//   with --presence 1, a join also sends (after --delay-ms) 42["joined",{"member":C}] to the
//                                     room's other members (a presence event)
const http = require('http');
const { Server } = require('socket.io');
const { parseArgs, delay, announce, exitCleanly } = require('./common');

const opts = parseArgs({
  delayMs: 0, pingIntervalMs: 25000, pingTimeoutMs: 20000, dropAcks: 0, roomSize: 0, skipMember: -1, presence: 0,
});
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
  socket.on('join', async (who) => {
    const room = `room-${who.room}`;
    socket.data.member = who.member;
    await socket.join(room);
    // To the members in the room when the delay is over: a member whose join was sent just
    // before this one but read just after it still gets it.
    if (opts.presence) {
      delay(opts.delayMs).then(() => socket.to(room).emit('joined', { member: who.member }));
    }
    const members = io.sockets.adapter.rooms.get(room);
    if (opts.roomSize > 0 && members && members.size === opts.roomSize) {
      io.to(room).emit('ready', { room: who.room });
    }
  });
  socket.on('say', async (message) => {
    await delay(opts.delayMs);
    for (const room of socket.rooms) {
      if (room === socket.id) continue;
      for (const id of io.sockets.adapter.rooms.get(room) ?? []) {
        const member = io.sockets.sockets.get(id);
        if (!member || member === socket || member.data.member === opts.skipMember) continue;
        member.emit('chat', { id: message.id, text: message.text });
      }
    }
  });
});

httpServer.listen(0, '127.0.0.1', () => announce(httpServer));
exitCleanly(() => new Promise((resolve) => io.close(resolve)));
