#!/usr/bin/python3
"""A login server in front of a WebSocket echo server, for the "login" integration tests.

HTTP (http.server, its own thread): POST /login with JSON {"user": ..., "password": ...};
the password --password gets 200 {"token": "tok-N", "user": ...} and Set-Cookie: sid=sid-N,
any other 401. --login-delay-ms holds every answer.
WebSocket (Debian's python3-websockets): echoes; the upgrade is refused with 403 unless it
carries what the options require: --require-token (Authorization: Bearer <an issued token>),
--require-session-cookie (Cookie with an issued sid), --require-origin ORIGIN,
--require-cookie NAME=VALUE.
--login-tls-cert/--login-tls-key: the login is served over TLS (https://) with that certificate.
Writes the login URL to --login-url-file, then prints "listening on ws://127.0.0.1:PORT/".
"""
import argparse
import asyncio
import http
import http.server
import json
import socket
import ssl
import sys
import threading
import time

import websockets


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--password", default="s3cret")
    p.add_argument("--login-delay-ms", type=float, default=0.0)
    p.add_argument("--login-url-file", required=True)
    p.add_argument("--require-token", action="store_true")
    p.add_argument("--require-session-cookie", action="store_true")
    p.add_argument("--require-origin", default=None)
    p.add_argument("--require-cookie", default=None)
    p.add_argument("--login-tls-cert", default=None)
    p.add_argument("--login-tls-key", default=None)
    a = p.parse_args()

    issued_tokens, issued_sids = set(), set()
    lock = threading.Lock()

    class Login(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def setup(self):
            super().setup()
            # Headers and body are separate writes: without this, Nagle holds the body for
            # the client's delayed ACK (~40 ms per login).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(a.login_delay_ms / 1000.0)
            try:
                creds = json.loads(body)
            except ValueError:
                creds = {}
            if self.path != "/login" or creds.get("password") != a.password:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with lock:
                n = len(issued_tokens)
                token, sid = f"tok-{n}", f"sid-{n}"
                issued_tokens.add(token)
                issued_sids.add(sid)
            out = json.dumps({"token": token, "user": creds.get("user")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", f"sid={sid}; Path=/; HttpOnly")
            self.send_header("X-Session", sid)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256  # the default 5 drops SYNs under load: 1 s retransmits

    httpd = Server(("127.0.0.1", 0), Login)
    httpd.daemon_threads = True
    scheme = "http"
    if a.login_tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.login_tls_cert, a.login_tls_key)
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    with open(a.login_url_file, "w") as f:
        f.write(f"{scheme}://127.0.0.1:{httpd.server_address[1]}/login")

    def cookies_of(headers):
        out = {}
        for part in headers.get("Cookie", "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                out[k] = v
        return out

    async def check(path, headers):
        why = None
        cookies = cookies_of(headers)
        with lock:
            if a.require_token:
                auth = headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in issued_tokens:
                    why = "no valid bearer token"
            if a.require_session_cookie and cookies.get("sid") not in issued_sids:
                why = "no valid session cookie"
        if a.require_origin is not None and headers.get("Origin") != a.require_origin:
            why = "wrong origin"
        if a.require_cookie is not None:
            k, v = a.require_cookie.split("=", 1)
            if cookies.get(k) != v:
                why = "missing cookie " + k
        if why is not None:
            return http.HTTPStatus.FORBIDDEN, [], (why + "\n").encode()
        return None

    async def handler(ws, *_):
        async for message in ws:
            await ws.send(message)

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", 0, process_request=check) as server:
            port = server.sockets[0].getsockname()[1]
            print(f"listening on ws://127.0.0.1:{port}/", flush=True)
            await asyncio.Future()

    asyncio.run(serve())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
