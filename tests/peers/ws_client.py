#!/usr/bin/python3
"""Tiny WebSocket client for wslat's integration tests (Debian's python3-websockets).

Connects to URL, optionally sends messages, reads up to --expect messages and prints one JSON
object on stdout:
  {"opened": bool, "handshake_ms": float, "subprotocol": str|null,
   "received": [{"type": "text"|"binary", "size": int, "data": str (hex for binary; cut to
                 1024 characters), "at_ms": float}],
   "error": null | {"kind": str, "detail": str, "status": int|null},
   "close_code": int|null, "close_reason": str|null}
Times are milliseconds since the connect attempt started. Errors never raise: they are reported
in "error" so the C++ test can assert on them ("status" for non-101 answers, "timeout" when
the opening handshake did not finish, "handshake" for a rejected 101, "closed" after open).
"""

import argparse
import asyncio
import json
import ssl
import sys
import time

import websockets
import websockets.exceptions as wse

MAX_SHOWN = 1024


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--send", action="append", default=[], help="text message to send")
    p.add_argument("--send-binary", action="append", default=[], help="hex payload to send")
    p.add_argument("--expect", type=int, default=0, help="messages to wait for")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for each phase")
    p.add_argument("--subprotocol", action="append", default=[])
    p.add_argument("--insecure", action="store_true", help="skip TLS verification")
    p.add_argument("--close", type=int, default=1000, help="close code to send at the end")
    p.add_argument("--wait-close", action="store_true",
                   help="after the expected messages, wait for the server to close")
    return p.parse_args()


def classify(exc):
    """Maps an exception to (kind, status)."""
    if isinstance(exc, wse.InvalidStatusCode):
        return "status", exc.status_code
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout", None
    if isinstance(exc, wse.InvalidHandshake):
        return "handshake", None
    if isinstance(exc, wse.ConnectionClosed):
        return "closed", None
    return "other", None


async def run(args, out):
    start = time.monotonic()
    ms = lambda: (time.monotonic() - start) * 1000.0
    kwargs = {"open_timeout": args.timeout, "close_timeout": args.timeout,
              "max_size": 32 * 1024 * 1024, "ping_interval": None}
    if args.subprotocol:
        kwargs["subprotocols"] = args.subprotocol
    if args.url.startswith("wss://"):
        ctx = ssl.create_default_context()
        if args.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        kwargs["ssl"] = ctx
    try:
        ws = await websockets.connect(args.url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure is data for the test
        kind, status = classify(exc)
        out["error"] = {"kind": kind, "detail": repr(exc), "status": status}
        return
    out["opened"] = True
    out["handshake_ms"] = ms()
    out["subprotocol"] = ws.subprotocol
    try:
        for text in args.send:
            await ws.send(text)
        for hexdata in args.send_binary:
            await ws.send(bytes.fromhex(hexdata))
        while len(out["received"]) < args.expect:
            msg = await asyncio.wait_for(ws.recv(), args.timeout)
            kind, data = ("binary", msg.hex()) if isinstance(msg, bytes) else ("text", msg)
            out["received"].append({"type": kind, "size": len(msg), "data": data[:MAX_SHOWN],
                                    "at_ms": ms()})
        if args.wait_close:
            await asyncio.wait_for(ws.wait_closed(), args.timeout)
        else:
            await ws.close(code=args.close)
    except Exception as exc:  # noqa: BLE001
        kind, status = classify(exc)
        out["error"] = {"kind": kind, "detail": repr(exc), "status": status}
    finally:
        await ws.close()
        out["close_code"] = ws.close_code
        out["close_reason"] = ws.close_reason


def main():
    args = parse_args()
    out = {"opened": False, "handshake_ms": None, "subprotocol": None, "received": [],
           "error": None, "close_code": None, "close_reason": None}
    asyncio.run(run(args, out))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
