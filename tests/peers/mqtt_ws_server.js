#!/usr/bin/env node
'use strict';
// MQTT 3.1.1 over WebSocket test peer: an aedes broker behind websocket-stream, on any path
// (clients offer the subprotocol "mqtt"). --delay-ms holds every PUBLISH a client sends for that
// long before the broker accepts it (aedes' authorizePublish), so a PUBLISH delivered back to
// a subscriber (and the PUBACK of a QoS 1 publish) comes --delay-ms later. CONNACK and SUBACK
// are not delayed.
const http = require('http');
const websocketStream = require('websocket-stream');
const aedes = require('aedes')();
const { parseArgs, announce, exitCleanly } = require('./common');

const opts = parseArgs({ delayMs: 0 });
aedes.authorizePublish = (client, packet, callback) => {
  if (opts.delayMs > 0) setTimeout(callback, opts.delayMs, null);
  else callback(null);
};

const httpServer = http.createServer();
websocketStream.createServer({ server: httpServer }, aedes.handle);

httpServer.listen(0, '127.0.0.1', () => announce(httpServer));
exitCleanly(() => new Promise((resolve) => aedes.close(() => httpServer.close(resolve))));
