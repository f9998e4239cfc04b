#!/usr/bin/env node
'use strict';
// graphql-ws test peer (subprotocol graphql-transport-ws) on any path.
//   query { hello }                      -> one next (after --delay-ms) then complete
//   subscription { count(to: N) }        -> N nexts {"count":1..N}, each after --delay-ms, then complete
// With --ping-interval-ms > 0 the server also sends {"type":"ping"} that often (the client
// should answer {"type":"pong"}); 0 (default) sends none.
// Rooms (delivery latency: a subscription fed by a mutation):
//   subscription { room(room: R, member: C) { kind id text member } }
//       puts the subscriber in room R; when the room has --room-size subscribers every member
//       gets {"kind":"ready"}; each later event of the room except its own arrives as a next
//   mutation { say(room: R, member: C, id: I, text: T) }
//       (after --delay-ms) {"kind":"chat","id":I,"text":T,"member":C} to the room's other
//       members, except member --skip-member C (-1: none); then the mutation's result, true
const http = require('http');
const { WebSocketServer } = require('ws');
const { useServer } = require('graphql-ws/lib/use/ws');
const { buildSchema } = require('graphql');
const { parseArgs, delay, announce, exitCleanly } = require('./common');

const opts = parseArgs({ delayMs: 0, pingIntervalMs: 0, roomSize: 0, skipMember: -1 });

const schema = buildSchema(`
  type Query { hello: String }
  type Event { kind: String!, id: String, text: String, member: String }
  type Mutation { say(room: String!, member: String!, id: String!, text: String): Boolean }
  type Subscription {
    count(to: Int!): Int
    room(room: String!, member: String!): Event
  }
`);

// room name -> Set of subscribers {member, push(event)}
const rooms = new Map();

// An async iterator over the events pushed to one subscriber; leaving (return) takes it out of
// its room.
function subscribe(room, member) {
  const members = rooms.get(room) ?? new Set();
  rooms.set(room, members);
  const queue = [];
  let wake = null;
  let done = false;
  const sub = {
    member,
    push(event) {
      queue.push(event);
      if (wake) wake();
    },
  };
  members.add(sub);
  if (opts.roomSize > 0 && members.size === opts.roomSize) {
    for (const m of members) m.push({ kind: 'ready' });
  }
  return {
    [Symbol.asyncIterator]() { return this; },
    async next() {
      while (queue.length === 0 && !done) await new Promise((resolve) => { wake = resolve; });
      wake = null;
      if (done) return { value: undefined, done: true };
      return { value: { room: queue.shift() }, done: false };
    },
    async return() {
      done = true;
      members.delete(sub);
      if (wake) wake();
      return { value: undefined, done: true };
    },
  };
}

const roots = {
  query: { hello: async () => { await delay(opts.delayMs); return 'world'; } },
  mutation: {
    say: async ({ room, member, id, text }) => {
      await delay(opts.delayMs);
      for (const m of rooms.get(room) ?? []) {
        if (m.member === member || Number(m.member) === opts.skipMember) continue;
        m.push({ kind: 'chat', id, text, member });
      }
      return true;
    },
  },
  subscription: {
    count: async function* count({ to }) {
      for (let i = 1; i <= to; i++) {
        await delay(opts.delayMs);
        yield { count: i };
      }
    },
    room: ({ room, member }) => subscribe(room, member),
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
