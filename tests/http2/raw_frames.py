"""Hand-built HTTP/2 frames against fastrt-h2: each misbehaving client must
get the reaction RFC 9113 requires (or nghttp2's flood protection), and a
fresh client must be served afterwards. Needs Debian's python3-hpack (comes
with python3-h2). Usage: raw_frames.py PORT; exit status = failures."""
import socket
import struct
import sys

import hpack

PORT = int(sys.argv[1])
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, STREAM_CLOSED, ENHANCE_YOUR_CALM = 0, 1, 2, 5, 0xB


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def request_block(path="/"):
    return hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"), (":authority", "test"), (":path", path)])


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return s


def read_frames(s, until, limit=5.0):
    """Reads frames until until(kind, flags, stream, payload) is true or the
    peer closes; returns (frames, closed)."""
    s.settimeout(limit)
    buf, frames = b"", []
    while True:
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            kind, flags = buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = buf[9:9 + length]
            buf = buf[9 + length:]
            frames.append((kind, flags, stream, payload))
            if kind == SETTINGS and not flags & ACK:
                try:
                    s.sendall(frame(SETTINGS, ACK, 0))
                except OSError:
                    pass
            if until(kind, flags, stream, payload):
                return frames, False
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return frames, True
        if not chunk:
            return frames, True
        buf += chunk


def goaway_code(frames):
    for kind, _, _, payload in frames:
        if kind == GOAWAY:
            return int.from_bytes(payload[4:8], "big")
    return None


failures = 0


def check(name, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures += 1


def fresh_client_served(after):
    s = connect()
    s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 1 and f & END_STREAM)
    s.close()
    status = None
    for kind, _, sid, payload in frames:
        if kind == HEADERS and sid == 1:
            status = dict(hpack.Decoder().decode(payload)).get(":status")
    check(f"a fresh client is served after {after}", status == "200")


# A GET over raw frames works.
fresh_client_served("start-up")

# PING is answered with an ACK carrying the same payload.
s = connect()
s.sendall(frame(PING, 0, 0, b"12345678"))
frames, _ = read_frames(s, lambda k, f, sid, p: k == PING and f & ACK)
check("PING gets a PING ACK with the same data", any(k == PING and f & ACK and p == b"12345678" for k, f, _, p in frames))
s.close()

# An invalid preface: the connection is closed, nothing is served.
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0))
frames, closed = read_frames(s, lambda *a: False)
check("invalid preface: connection closed", closed and not any(k == HEADERS for k, *_ in frames))
s.close()
fresh_client_served("an invalid preface")

# Decreasing stream ids. RFC 9113 §5.1.1 asks for PROTOCOL_ERROR; nghttp2
# deliberately ignores such a HEADERS block (it cannot tell it from late
# trailers of a stream it reset). Assert that it is not served and that the
# connection stays sane.
s = connect()
s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 3, request_block()) +
          frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
frames, _ = read_frames(s, lambda k, f, sid, p: sid == 3 and f & END_STREAM)
s.sendall(frame(PING, 0, 0, b"87654321"))
more, _ = read_frames(s, lambda k, f, sid, p: k == PING and f & ACK or k == GOAWAY)
frames += more
check("decreasing stream id: not served", not any(sid == 1 for _, _, sid, _ in frames))
check("decreasing stream id: stream 3 answered, then PING ACK or GOAWAY",
      any(sid == 3 for _, _, sid, _ in frames) and any(k == GOAWAY or (k == PING and f & ACK) for k, f, _, _ in frames))
s.close()
fresh_client_served("decreasing stream ids")

# DATA on a stream the client already closed: STREAM_CLOSED.
s = connect()
s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()) + frame(DATA, 0, 1, b"late"))
frames, _ = read_frames(s, lambda k, f, sid, p: k in (GOAWAY, RST_STREAM) and sid in (0, 1))
codes = [int.from_bytes(p[-4:] if k == RST_STREAM else p[4:8], "big") for k, _, _, p in frames if k in (GOAWAY, RST_STREAM)]
check("DATA after END_STREAM: STREAM_CLOSED", STREAM_CLOSED in codes)
s.close()
fresh_client_served("DATA on a closed stream")

# CONTINUATION flood: the connection is torn down.
s = connect()
block = request_block()
flood = frame(HEADERS, 0, 1, block) + b"".join(frame(CONTINUATION, 0, 1, b"") for _ in range(1000))
try:
    s.sendall(flood)
except OSError:
    pass
frames, closed = read_frames(s, lambda k, *a: k == GOAWAY)
check("CONTINUATION flood: GOAWAY or close", goaway_code(frames) is not None or closed)
s.close()
fresh_client_served("a CONTINUATION flood")

# Rapid reset (CVE-2023-44487): open and reset streams in a burst.
s = connect()
burst = b"".join(frame(HEADERS, END_HEADERS, 2 * i + 1, request_block()) +
                 frame(RST_STREAM, 0, 2 * i + 1, struct.pack(">I", 8)) for i in range(3000))
try:
    s.sendall(burst)
except OSError:
    pass
frames, closed = read_frames(s, lambda k, *a: k == GOAWAY)
# nghttp2's reset rate limit answers with INTERNAL_ERROR; ENHANCE_YOUR_CALM is also fine.
check("rapid reset: GOAWAY", goaway_code(frames) in (INTERNAL_ERROR, ENHANCE_YOUR_CALM))
s.close()
fresh_client_served("a rapid reset burst")

# Many concurrent streams on one connection all get answers.
s = connect()
s.sendall(b"".join(frame(HEADERS, END_STREAM | END_HEADERS, 2 * i + 1, request_block("/cpp/hello")) for i in range(50)))
done = set()
frames, _ = read_frames(s, lambda k, f, sid, p: (k in (HEADERS, DATA) and f & END_STREAM and not done.add(sid)) and len(done) == 50)
check("50 concurrent streams all answered", len(done) == 50)
s.close()

sys.exit(failures)
