#!/usr/bin/python3
"""A hand-made WebSocket upgrade answer, for tests of what wslat does with a 101 it must refuse.

Answers every upgrade request with a valid 101 (the right Sec-WebSocket-Accept) plus the
header lines given with --header (e.g. "Sec-WebSocket-Extensions: permessage-deflate", which
the request never offered), then holds the connection until the client closes it. With --then
HEX it writes those bytes after the 101 (a hand-made frame: a close without a status code, one
whose length is not in its shortest encoding), reads once more (the client's answer to a close,
or its end) and closes the connection, as a server does after the close handshake.
Plain sockets only (no WebSocket library would write such an answer).
Prints "listening on ws://127.0.0.1:PORT/".
"""
import argparse
import base64
import hashlib
import socket
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def serve(conn: socket.socket, extra: list, then: bytes) -> None:
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk or len(data) > 65536:
                return
            data += chunk
        key = ""
        for line in data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        head = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                "Connection: Upgrade", "Sec-WebSocket-Accept: " + accept] + extra
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if then:
            conn.sendall(then)
            conn.settimeout(10)
            conn.recv(4096)
            return
        while conn.recv(4096):
            pass


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--then", default="", help="bytes to write after the 101, in hex")
    a = p.parse_args()
    then = bytes.fromhex(a.then)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(f"listening on ws://127.0.0.1:{listener.getsockname()[1]}/", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, a.header, then), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
