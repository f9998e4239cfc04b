#!/usr/bin/env node
'use strict';
// Echo server on Node `ws` with permessage-deflate (RFC 7692): every message back as it came.
// --deflate 1 (default): perMessageDeflate on, compressing every message (threshold 0) with
// context takeover both ways; --deflate 0: the extension off, so an offer is declined.
// --client-no-context-takeover 1: the answer asks the client to compress each message on its
// own (the server resets its decompressor per message).
const { WebSocketServer } = require('ws');
const { parseArgs, announce, exitCleanly } = require('./common');

const opts = parseArgs({ deflate: 1, clientNoContextTakeover: 0 });
const perMessageDeflate =
  opts.deflate ? { threshold: 0, clientNoContextTakeover: opts.clientNoContextTakeover === 1 } : false;
const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });

server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('listening', () => announce(server));
exitCleanly(() => new Promise((resolve) => server.close(resolve)));
