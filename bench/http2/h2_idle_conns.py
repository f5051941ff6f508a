#!/usr/bin/python3
"""Server memory per idle HTTP/2 connection.

Opens N cleartext HTTP/2 (prior knowledge) connections to 127.0.0.1:PORT,
or with --tls N HTTP/2 over TLS ones (Python's ssl, ALPN h2, any certificate
accepted: the servers measured use a self-signed one).
Each one sends the client preface and an empty SETTINGS frame, does one GET
and reads the whole response (checking :status 200 and the body), then stays
open and idle. Once every connection is idle, the server's RSS is read again:
(after - before) / N is what one idle connection costs the server.

Past ~28,000 connections one client address runs out of ephemeral ports
(net.ipv4.ip_local_port_range), so connections come from 127.0.0.1,
127.0.0.2, ... (--sources; by default one per 25,000 connections: the whole
127/8 block is loopback on Linux). Every connection is one open file here and
one in the server: RLIMIT_NOFILE is raised to N + 100 and the run stops if
the hard limit does not allow it.

Only the Debian python3 standard library: the frames and the HPACK request
block are built by hand (static-table indexes and literals without indexing,
no Huffman), which is all a client has to send. Prints one JSON object.

usage: h2_idle_conns.py --port P --path /x --body-len 13 --pid PID [--pid PID2]
                        [--connections 10000] [--parallel 200] [--tls] [--sources K]
"""

import argparse
import asyncio
import json
import resource
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and flags (RFC 9113, section 6).
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def frame(kind, flags, stream_id, payload=b""):
    # 24-bit length, 8-bit type, 8-bit flags, 31-bit stream id.
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


def hpack_literal(name_index, value):
    # "Literal Header Field without Indexing — Indexed Name" (RFC 7541, 6.2.2):
    # 0000 + 4-bit name index (all ours are < 15), then the raw value (H=0).
    value = value.encode()
    assert name_index < 15 and len(value) < 127
    return bytes([name_index, len(value)]) + value


def request_block(authority, path, tls):
    # Static table: 2 = :method GET, 6 = :scheme http, 7 = :scheme https (fully
    # indexed: 0x80 | i); 1 = :authority, 4 = :path (names only, values as literals).
    return bytes([0x82, 0x87 if tls else 0x86]) + hpack_literal(1, authority) + hpack_literal(4, path)


def client_tls_context():
    # ALPN h2 only (a server that does not pick it fails the handshake); the
    # benchmark's certificate is self-signed, so nothing is verified.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    return ctx


def rss_bytes(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


class Conn:
    """One connection: handshake + one GET, then held open."""

    def __init__(self):
        self.reader = self.writer = None
        self.closed = False


async def read_frame(reader):
    head = await reader.readexactly(9)
    length = int.from_bytes(head[:3], "big")
    kind, flags = head[3], head[4]
    stream_id = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
    return kind, flags, stream_id, await reader.readexactly(length)


async def one_request(conn, port, path, body_len, sem, tls, source):
    async with sem:  # bounded handshakes in flight: no listen-backlog overflow, no SYN retries
        conn.reader, conn.writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls, local_addr=(source, 0))
        if tls is not None and conn.writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            raise RuntimeError("the server did not choose h2 through ALPN")
        block = request_block(f"127.0.0.1:{port}", path, tls is not None)
        conn.writer.write(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        status_ok, body, done = False, 0, False
        while not done:
            kind, flags, sid, payload = await read_frame(conn.reader)
            if kind == SETTINGS and not flags & ACK:
                conn.writer.write(frame(SETTINGS, ACK, 0))  # the server's SETTINGS must be acknowledged
            elif kind == PING and not flags & ACK:
                conn.writer.write(frame(PING, ACK, 0, payload))
            elif kind in (GOAWAY, RST_STREAM):
                raise RuntimeError(f"server sent {'GOAWAY' if kind == GOAWAY else 'RST_STREAM'} {payload.hex()}")
            elif kind == HEADERS and sid == 1:
                # Every server here encodes ":status 200" as static index 8 (0x88) first;
                # anything else is treated as a non-200 answer rather than decoded.
                # (No PADDED/PRIORITY flags are expected on responses.)
                if payload[:1] == b"\x88":
                    status_ok = True
                done = bool(flags & END_STREAM)
            elif kind == DATA and sid == 1:
                body += len(payload) - (payload[0] + 1 if flags & 0x8 else 0)
                done = bool(flags & END_STREAM)
        await conn.writer.drain()
        if not status_ok:
            raise RuntimeError("response status is not 200")
        if body != body_len:
            raise RuntimeError(f"response body is {body} bytes, expected {body_len}")


async def hold(conn):
    # Keep reading (and answering PINGs) so that an EOF from the server is noticed.
    try:
        while True:
            kind, flags, _, payload = await read_frame(conn.reader)
            if kind == PING and not flags & ACK:
                conn.writer.write(frame(PING, ACK, 0, payload))
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        conn.closed = True


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--body-len", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", required=True, help="server process(es) whose VmRSS to sum")
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--parallel", type=int, default=200)
    ap.add_argument("--tls", action="store_true", help="HTTP/2 over TLS (ALPN h2) instead of h2c")
    ap.add_argument("--sources", type=int, default=0,
                    help="client addresses 127.0.0.1..127.0.0.K (default: one per 25,000 connections)")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds idle before the second RSS reading")
    args = ap.parse_args()

    # Each connection is one fd here (and one in the server): the soft limit must cover N.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 100
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        if min(want, hard) < want:
            sys.exit(f"h2_idle_conns: RLIMIT_NOFILE hard limit {hard} < {want}")

    before = rss_bytes(args.pid)
    conns = [Conn() for _ in range(args.connections)]
    sem = asyncio.Semaphore(args.parallel)
    started = time.monotonic()
    tls = client_tls_context() if args.tls else None
    sources = args.sources or (args.connections + 24999) // 25000
    results = await asyncio.gather(*(one_request(c, args.port, args.path, args.body_len, sem, tls,
                                                 f"127.0.0.{i % sources + 1}") for i, c in enumerate(conns)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    holders = [asyncio.ensure_future(hold(c)) for c in conns if c.reader is not None]
    opened = time.monotonic() - started
    await asyncio.sleep(args.settle)  # let the server finish any deferred frees/writes
    after = rss_bytes(args.pid)
    still_open = sum(1 for c in conns if c.reader is not None and not c.closed)

    out = {
        "connections": args.connections,
        "tls": args.tls,
        "ok": args.connections - len(errors),
        "still_open": still_open,
        "errors": sorted({f"{type(e).__name__}: {e}" for e in errors})[:5],
        "rss_before": before,
        "rss_after": after,
        "bytes_per_conn": (after - before) / args.connections,
        "open_seconds": round(opened, 2),
        "sources": sources,
    }
    print(json.dumps(out))
    for h in holders:
        h.cancel()
    for c in conns:
        if c.writer is not None:
            c.writer.close()
    return 0 if not errors and still_open == args.connections else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
