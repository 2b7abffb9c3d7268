"""A minimal HTTP/1.1 client on asyncio streams, for load tests that must see every status, every
header and every connection failure exactly (no retries, no pooling behind the test's back)."""

import asyncio
from dataclasses import dataclass, field


class ConnectionFailed(Exception):
    """The connection failed or closed before a whole response arrived."""


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    close: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        except OSError as e:
            raise ConnectionFailed(f"connect: {e!r}") from e
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> Response:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await self.writer.drain()
            return await self._read_response()
        except ConnectionFailed:
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            raise ConnectionFailed(repr(e)) from e

    async def _read_response(self) -> Response:
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionFailed("closed before a status line")
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ConnectionFailed(f"bad status line {status_line!r}")
        response = Response(int(parts[1]))
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionFailed("closed inside the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response.headers[name.strip().lower()] = value.strip()
        te = response.header("transfer-encoding") or ""
        if "chunked" in te.lower():
            chunks = []
            while True:
                size_line = await self.reader.readline()
                if not size_line:
                    raise ConnectionFailed("closed inside a chunked body")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers, then the blank line.
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            response.body = b"".join(chunks)
        elif response.header("content-length") is not None:
            response.body = await self.reader.readexactly(int(response.header("content-length")))
        elif response.status in (204, 304) or 100 <= response.status < 200:
            response.body = b""
        else:
            response.body = await self.reader.read()
            response.close = True
        connection = (response.header("connection") or "").lower()
        if "close" in connection or parts[0] == "HTTP/1.0":
            response.close = True
        return response
