"""A small reverse proxy on loopback that serves the gateway under a path prefix (as an Ingress
or a corporate proxy does): `/<prefix>/x` is forwarded to the gateway's `/x`, answers are passed
back as they are (status, headers, body), streamed chunk by chunk. `/blank` is a page of the
proxy's own origin: another origin than the gateway's, for cross-origin checks."""

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length"}


class PrefixProxy:
    def __init__(self, upstream: str, prefix: str):
        target = urllib.parse.urlsplit(upstream)
        prefix = "/" + prefix.strip("/")
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                seen.append(self.path)
                if self.path == "/blank":
                    # A page of this origin that is not the gateway's (no CSP of its own).
                    page = b"<!doctype html><title>another origin</title>"
                    self.send_response(200)
                    self.send_header("content-type", "text/html")
                    self.send_header("content-length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                if not (self.path == prefix or self.path.startswith(prefix + "/")):
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                conn.request(self.command, self.path[len(prefix):] or "/", body=body, headers=headers)
                answer = conn.getresponse()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                while chunk := answer.read1(65536):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                conn.close()

            do_GET = do_POST = do_PATCH = do_OPTIONS = do_HEAD = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
