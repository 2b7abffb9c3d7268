#!/usr/bin/env python3
"""client.py PORT PATH [N]: N GET requests over one keep-alive connection (raw socket, so nothing
is buffered); prints p50/p90/p99 (ms) of the time to the response head, to the first body byte
and to the end of the body."""
import socket, sys, time

port, path = int(sys.argv[1]), sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
request = f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode()
sock = socket.create_connection(("127.0.0.1", port))
times = {"head": [], "first byte": [], "end": []}


def chunked_done(body):
    """True once a chunked body's last chunk has arrived."""
    while True:
        line, sep, rest = body.partition(b"\r\n")
        if not sep:
            return False
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return rest.startswith(b"\r\n")
        if len(rest) < size + 2:
            return False
        body = rest[size + 2:]


for i in range(n + 5):
    t0 = time.perf_counter()
    sock.sendall(request)
    buf, head_at, first_at = b"", None, None
    while True:
        data = sock.recv(65536)
        assert data, "connection closed"
        now = time.perf_counter()
        buf += data
        if head_at is None and b"\r\n\r\n" in buf:
            head_at = now
        if head_at is None:
            continue
        head, body = buf.split(b"\r\n\r\n", 1)
        chunked = b"transfer-encoding: chunked" in head.lower()
        if first_at is None and (body[body.find(b"\r\n") + 2:] if chunked else body):
            first_at = now
        length = [l for l in head.lower().split(b"\r\n") if l.startswith(b"content-length:")]
        if (chunked and chunked_done(body)) or (length and len(body) >= int(length[0].split(b":")[1])):
            break
    if i >= 5:  # warm-up
        times["head"].append((head_at - t0) * 1e3)
        times["first byte"].append((first_at - t0) * 1e3)
        times["end"].append((now - t0) * 1e3)

for name, xs in times.items():
    xs.sort()
    print(f"  {path:18} {name:11}" + "".join(
        f" p{p}={xs[min(len(xs) - 1, len(xs) * p // 100)]:6.1f}" for p in (50, 90, 99)) + " ms")
