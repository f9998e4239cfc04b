#!/usr/bin/env node
'use strict';
// JSON-RPC 2.0 test peer (rpc-websockets) on any path. Methods (each response after --delay-ms;
// calls are handled concurrently, so pipelined calls come back in about one delay):
//   echo(...params) -> params            sum(a, b, ...) -> a + b + ...
//   sleep(ms)       -> ms, after ms more (lets a test make responses arrive out of order)
const { Server } = require('rpc-websockets');
const { parseArgs, delay, announce, exitCleanly } = require('./common');

const opts = parseArgs({ delayMs: 0 });
const server = new Server({ host: '127.0.0.1', port: 0 });

server.register('echo', async (params) => { await delay(opts.delayMs); return params; });
server.register('sum', async (params) => {
  await delay(opts.delayMs);
  return (Array.isArray(params) ? params : Object.values(params || {})).reduce((a, b) => a + b, 0);
});
server.register('sleep', async (params) => {
  const ms = Number(Array.isArray(params) ? params[0] : params) || 0;
  await delay(opts.delayMs + ms);
  return ms;
});

server.on('listening', () => announce(server.wss));
exitCleanly(() => server.close());
