#!/usr/bin/python3
"""A hand-made WebSocket server, for tests of what wslat does with frames no library would write.

Answers every upgrade request with a valid 101 (the right Sec-WebSocket-Accept) plus the
header lines given with --header (e.g. "Sec-WebSocket-Extensions: permessage-deflate", which
the request never offered), then writes the bytes given with --then HEX (hand-made frames: a
close without a status code, a length not in its shortest encoding, a fragmented message with
a ping between its fragments). Then it reads the client's frames: text and binary are echoed,
a ping is answered with a pong (unless --ignore-pings), a pong is reported back as the text
message "pong PAYLOAD", and a close is answered with the same close (unless --then held a close
already) before the connection is closed, as a server does after the close handshake (with
--linger: it waits for the client to end the connection first). With --then-once only the
first connection gets the --then bytes and --linger: the next ones are a plain echo server.
With --tls-cert and --tls-key it speaks TLS. Prints "listening on ws://127.0.0.1:PORT/"
(wss:// with TLS).
"""
import argparse
import base64
import hashlib
import os
import select
import socket
import ssl
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frames(data: bytes):
    """Yields (opcode, payload) of the complete frames in data (unmasked), then the rest."""
    while len(data) >= 2:
        opcode, masked, length, at = data[0] & 0x0F, data[1] & 0x80, data[1] & 0x7F, 2
        if length == 126:
            length, at = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            length, at = int.from_bytes(data[2:10], "big"), 10
        mask = data[at:at + 4] if masked else b""
        at += len(mask)
        if len(data) < at + length:
            break
        payload = data[at:at + length]
        if mask:
            payload = bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
        yield opcode, payload
        data = data[at + length:]
    yield None, data


def frame(opcode: int, payload: bytes) -> bytes:
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    return bytes([0x80 | opcode, 126]) + len(payload).to_bytes(2, "big") + payload


def serve(conn: socket.socket, extra: list, then: bytes, ignore_pings: bool, linger: bool,
          tls) -> None:
    if tls is not None:
        try:
            conn.settimeout(10)
            conn = tls.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk or len(data) > 65536:
                return
            data += chunk
        request, data = data.split(b"\r\n\r\n", 1)
        key = ""
        for line in request.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        head = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                "Connection: Upgrade", "Sec-WebSocket-Accept: " + accept] + extra
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + then)
        closed = any(op == 8 for op, _ in frames(then))
        conn.settimeout(30)  # a test's client that never ends still frees this thread
        while True:
            for opcode, payload in frames(data):
                if opcode is None:
                    data = payload
                elif opcode in (1, 2):
                    conn.sendall(frame(opcode, payload))
                elif opcode == 9 and not ignore_pings:
                    conn.sendall(frame(10, payload))
                elif opcode == 10:
                    conn.sendall(frame(1, b"pong " + payload))
                elif opcode == 8:
                    if not closed:
                        conn.sendall(frame(8, payload))
                    # The bytes under TLS (a close_notify included): only the end counts.
                    while linger and select.select([conn], [], [], 30)[0]:
                        if not os.read(conn.fileno(), 4096):
                            break
                    return
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--then", default="", help="bytes to write after the 101, in hex")
    p.add_argument("--then-once", action="store_true", help="--then on the first connection only")
    p.add_argument("--ignore-pings", action="store_true", help="answer no ping with a pong")
    p.add_argument("--linger", action="store_true", help="after the close, wait for the client's end")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    a = p.parse_args()
    then = bytes.fromhex(a.then)
    tls = None
    if a.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.tls_cert, a.tls_key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    scheme = "wss" if tls else "ws"
    print(f"listening on {scheme}://127.0.0.1:{listener.getsockname()[1]}/", flush=True)
    first = True
    while True:
        conn, _ = listener.accept()
        special = first or not a.then_once
        first = False
        threading.Thread(target=serve, daemon=True,
                         args=(conn, a.header, then if special else b"", a.ignore_pings,
                               a.linger and special, tls)).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
