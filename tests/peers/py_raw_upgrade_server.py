#!/usr/bin/python3
"""A hand-made WebSocket server, for tests of what wslat does with frames no library would write.

Answers every upgrade request with a valid 101 (the right Sec-WebSocket-Accept) plus the
header lines given with --header (e.g. "Sec-WebSocket-Extensions: permessage-deflate", which
the request never offered), then writes the bytes given with --then HEX (hand-made frames: a
close without a status code, a length not in its shortest encoding, a fragmented message with
a ping between its fragments). Then it reads the client's frames: text and binary are echoed,
a ping is answered with a pong (unless --ignore-pings), a pong is reported back as the text
message "pong PAYLOAD", and a close is answered with the same close (unless --then held a close
already) before the connection is closed, as a server does after the close handshake.
Plain sockets only. Prints "listening on ws://127.0.0.1:PORT/".
"""
import argparse
import base64
import hashlib
import socket
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


def serve(conn: socket.socket, extra: list, then: bytes, ignore_pings: bool) -> None:
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
                    return
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--then", default="", help="bytes to write after the 101, in hex")
    p.add_argument("--ignore-pings", action="store_true", help="answer no ping with a pong")
    a = p.parse_args()
    then = bytes.fromhex(a.then)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(f"listening on ws://127.0.0.1:{listener.getsockname()[1]}/", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, a.header, then, a.ignore_pings), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
