'use strict';
// Shared by the protocol peers: option parsing, the READY line, the injected delay and a clean
// exit on SIGTERM/SIGINT or when stdin closes (a test that crashed leaves no server behind).
const fs = require('fs');

// Parses `--name N` pairs into numbers; `defaults` lists the accepted names (camelCase keys).
function parseArgs(defaults) {
  const opts = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const value = Number(argv[i + 1]);
    if (!argv[i].startsWith('--') || !(key in defaults) || !Number.isFinite(value) || value < 0) {
      const names = Object.keys(defaults).map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()));
      process.stderr.write(`${process.argv[1]}: bad option '${argv[i]} ${argv[i + 1] ?? ''}'; ` +
                           `expected: ${names.join(' N, ')} N (non-negative numbers)\n`);
      process.exit(64);
    }
    opts[key] = value;
  }
  return opts;
}

// Resolves after ms milliseconds (immediately, without a timer turn, when ms is 0).
function delay(ms) {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

// Prints the one line tests wait for, once `server` (a net/http server) is listening.
function announce(server) {
  process.stdout.write(`READY ${server.address().port}\n`);
}

// Runs `close` (may return a promise) and exits 0 on SIGTERM, SIGINT or, when stdin is a pipe
// or a socket, at its end (the parent died). A stdin of /dev/null (the integration harness's
// BackgroundServer) or a terminal is not watched: its "end" would stop the server at once.
function exitCleanly(close) {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    // Open client connections may keep a graceful close waiting: do not wait for them long.
    setTimeout(() => process.exit(0), 1000).unref();
    Promise.resolve().then(close).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const stdin = fs.fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}

module.exports = { parseArgs, delay, announce, exitCleanly };
