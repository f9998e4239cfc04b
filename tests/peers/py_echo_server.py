#!/usr/bin/python3
"""A third-party WebSocket target for the integration tests: Debian's python3-websockets.

Echoes every message after --echo-delay-ms, optionally sends a welcome message after
--welcome-delay-ms, and can hold every upgrade for --handshake-delay-ms. Prints "listening on ws://127.0.0.1:PORT/" once bound (port 0 = ephemeral).
"""
import argparse
import asyncio
import base64
import http
import sys

import websockets


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--echo-delay-ms", type=float, default=0.0)
    p.add_argument("--welcome", default=None)
    p.add_argument("--welcome-delay-ms", type=float, default=0.0)
    p.add_argument("--handshake-delay-ms", type=float, default=0.0)
    p.add_argument("--basic-auth", default=None,
                   help="USER:PASSWORD the upgrade's Authorization: Basic must carry (else 401)")
    p.add_argument("--subprotocols", default=None,
                   help="comma-separated subprotocols the server supports (default: none)")
    a = p.parse_args()

    expected_auth = None
    if a.basic_auth is not None:
        expected_auth = "Basic " + base64.b64encode(a.basic_auth.encode()).decode()

    async def delay_handshake(path, headers):
        if expected_auth is not None and headers.get("Authorization") != expected_auth:
            return http.HTTPStatus.UNAUTHORIZED, [], b"wrong or missing credentials\n"
        await asyncio.sleep(a.handshake_delay_ms / 1000.0)
        return None  # go on with the upgrade

    async def handler(ws, *_):
        if a.welcome is not None:
            await asyncio.sleep(a.welcome_delay_ms / 1000.0)
            await ws.send(a.welcome)
        async for message in ws:
            if a.echo_delay_ms:
                await asyncio.sleep(a.echo_delay_ms / 1000.0)
            await ws.send(message)

    hook = delay_handshake if a.handshake_delay_ms > 0 or expected_auth is not None else None
    subprotocols = a.subprotocols.split(",") if a.subprotocols else None
    async with websockets.serve(handler, "127.0.0.1", a.port, process_request=hook,
                                subprotocols=subprotocols) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}/", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
