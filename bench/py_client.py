#!/usr/bin/python3
"""The Python `websockets` client doing the benchmark cycle, as its users write it.

Debian's python3-websockets on /usr/bin/python3, default options: connect, send one text
message, await its echo, close.
  /usr/bin/python3 bench/py_client.py --url ws://127.0.0.1:PORT/ --sequential N
  /usr/bin/python3 bench/py_client.py --url ws://127.0.0.1:PORT/ --concurrent C --cycles N
  /usr/bin/python3 bench/py_client.py --url ws://127.0.0.1:PORT/ --hold N
Prints one JSON object on stdout, the schema shared with raw_client.cpp and node_client.js.
"""
import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time

import websockets

HOLD_HANDSHAKES_IN_FLIGHT = 500  # the same in raw_client.cpp and node_client.js


def now_ms():
    return time.perf_counter_ns() / 1e6


def quantile(values, q):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(values):
    return {"count": len(values), "p50": quantile(values, 0.5), "p99": quantile(values, 0.99)}


async def cycle(args, samples):
    t0 = now_ms()
    ws = await websockets.connect(args.url)
    t_open = now_ms()
    try:
        await ws.send(args.payload)
        echo = await ws.recv()
        t_echo = now_ms()
        if echo != args.payload:
            raise RuntimeError("echo mismatch")
        samples["handshake"].append(t_open - t0)
        samples["rtt"].append(t_echo - t_open)
    finally:
        await ws.close()


async def run_cycles(args, width):
    samples = {"handshake": [], "rtt": []}
    counts = {"started": 0, "cycles": 0, "errors": 0}

    async def worker():
        while counts["started"] < args.count:
            counts["started"] += 1
            try:
                await cycle(args, samples)
                counts["cycles"] += 1
            except Exception:  # every failure counts as an error, as in the other clients
                counts["errors"] += 1

    start = now_ms()
    await asyncio.gather(*(worker() for _ in range(min(width, args.count))))
    seconds = (now_ms() - start) / 1000
    return {
        "client": "python", "mode": args.mode, "concurrency": width,
        "cycles": counts["cycles"], "errors": counts["errors"], "duration_s": seconds,
        "cycles_per_s": counts["cycles"] / seconds,
        "handshake_ms": summary(samples["handshake"]), "rtt_ms": summary(samples["rtt"]),
    }


async def run_hold(args):
    held, handshake = [], []
    counts = {"started": 0, "errors": 0}

    async def worker():
        while counts["started"] < args.count:
            counts["started"] += 1
            t0 = now_ms()
            try:
                held.append(await websockets.connect(args.url))
                handshake.append(now_ms() - t0)
            except Exception:
                counts["errors"] += 1

    start = now_ms()
    width = min(HOLD_HANDSHAKES_IN_FLIGHT, args.count)
    await asyncio.gather(*(worker() for _ in range(width)))
    report = {"client": "python", "mode": "hold", "open": len(held), "errors": counts["errors"],
              "duration_s": (now_ms() - start) / 1000, "handshake_ms": summary(handshake)}
    print(json.dumps(report), flush=True)
    # Hold until stdin reaches EOF or a signal arrives.
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: done.done() or done.set_result(None))
    loop.run_in_executor(None, lambda: (sys.stdin.read(), loop.call_soon_threadsafe(
        lambda: done.done() or done.set_result(None))))
    await done
    for ws in held:
        ws.transport.abort()
    # The stdin reader thread may still block: do not wait for it at interpreter exit.
    os._exit(0)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--sequential", type=int)
    p.add_argument("--concurrent", type=int)
    p.add_argument("--cycles", type=int)
    p.add_argument("--hold", type=int)
    p.add_argument("--payload", default="hello")
    args = p.parse_args()
    if args.sequential:
        args.mode, args.count = "sequential", args.sequential
    elif args.concurrent and args.cycles:
        args.mode, args.count = "concurrent", args.cycles
    elif args.hold:
        args.mode, args.count = "hold", args.hold
    else:
        p.error("one of --sequential N, --concurrent C --cycles N, --hold N")
    return args


def main():
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.mode == "hold":
        asyncio.run(run_hold(args))
        return
    width = 1 if args.mode == "sequential" else args.concurrent
    print(json.dumps(asyncio.run(run_cycles(args, width))), flush=True)


if __name__ == "__main__":
    main()
