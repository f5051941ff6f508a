"""Hand-built HTTP/2 frames against fastrt-h2: each misbehaving client must
get the reaction RFC 9113 requires (or nghttp2's flood protection), and a
fresh client must be served afterwards. Needs Debian's python3-hpack (comes
with python3-h2); run with /usr/bin/python3.

Usage: raw_frames.py PORT [--pid PID] [--big-port BIG_PORT]
  PORT        a fastrt-h2 with --max-body-size 4096 (the 413 case)
  --pid       its process id: the flood cases check its memory (VmRSS)
  --big-port  a fastrt-h2 with --max-body-size >= 4 MiB (the large request
              and response body case; skipped without it)
Exit status: the number of failed checks."""
import argparse
import os
import socket
import struct
import sys
import time

import hpack

_args = argparse.ArgumentParser()
_args.add_argument("port", type=int)
_args.add_argument("--pid", type=int)
_args.add_argument("--big-port", type=int)
ARGS = _args.parse_args()
PORT = ARGS.port
TIMEOUT = 5.0  # every socket read and write has a deadline
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
KIND = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE",
        "CONTINUATION"]
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
          "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
          "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
(NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR,
 REFUSED_STREAM, CANCEL, COMPRESSION_ERROR) = range(10)
ENHANCE_YOUR_CALM = 0xB
SETTINGS_ENABLE_PUSH, SETTINGS_MAX_CONCURRENT_STREAMS, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 2, 3, 4, 5
MAX_WINDOW = 2**31 - 1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def settings_payload(*pairs):
    return b"".join(struct.pack(">HI", k, v) for k, v in pairs)


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def rst_stream(stream, code):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def request_fields(path="/", method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path), *extra]


def request_block(path="/", method="GET", extra=()):
    return hpack.Encoder().encode(request_fields(path, method, extra))


def show(f):
    """One frame as text, for the report lines."""
    kind, flags, sid, payload = f
    name = KIND[kind] if kind < len(KIND) else f"type{kind}"
    if kind == GOAWAY:
        return f"GOAWAY({ERRORS[code_of(f)] if code_of(f) < len(ERRORS) else code_of(f)}, last={int.from_bytes(payload[:4], 'big')})"
    if kind == RST_STREAM:
        return f"RST_STREAM({sid}, {ERRORS[code_of(f)] if code_of(f) < len(ERRORS) else code_of(f)})"
    return f"{name}({sid}{', ACK' if kind in (SETTINGS, PING) and flags & ACK else ''}" \
           f"{', END_STREAM' if kind in (DATA, HEADERS) and flags & END_STREAM else ''})"


def code_of(f):
    kind, _, _, payload = f
    return int.from_bytes(payload[4:8] if kind == GOAWAY else payload[:4], "big")


class Conn:
    """One client connection: keeps the unparsed bytes between reads, ACKs
    the server's SETTINGS, decodes response headers with one HPACK decoder."""

    def __init__(self, port=PORT, settings=b"", preface=PREFACE, buffers=None):
        self.s = socket.socket()
        if buffers:  # before connect(): small kernel buffers, small TCP windows
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffers)
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffers)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # WINDOW_UPDATEs must not wait for ACKs
        self.s.settimeout(TIMEOUT)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.closed = False
        self.server_settings = {}
        self.dec = hpack.Decoder()
        self.enc = hpack.Encoder()
        if preface is not None:
            self.send(preface + frame(SETTINGS, 0, 0, settings))

    def send(self, data, limit=TIMEOUT):
        """False if the peer is gone or did not take the bytes in time."""
        self.s.settimeout(limit)
        try:
            self.s.sendall(data)
            return True
        except OSError:  # reset, broken pipe or the deadline
            return False

    def read_some(self, deadline):
        """The frames of one recv (possibly none) before deadline."""
        frames = []
        while True:
            pos, buf = 0, self.buf
            while len(buf) - pos >= 9:
                length = int.from_bytes(buf[pos:pos + 3], "big")
                if len(buf) - pos < 9 + length:
                    break
                f = (buf[pos + 3], buf[pos + 4], int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF,
                     buf[pos + 9:pos + 9 + length])
                pos += 9 + length
                if f[0] == SETTINGS and not f[1] & ACK:
                    for i in range(0, len(f[3]) - 5, 6):
                        k, v = struct.unpack(">HI", f[3][i:i + 6])
                        self.server_settings[k] = v
                    self.send(frame(SETTINGS, ACK, 0))
                frames.append(f)
            self.buf = buf[pos:]
            if frames or self.closed:
                return frames
            left = deadline - time.monotonic()
            if left <= 0:
                return frames
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                return frames
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return frames
            self.buf += chunk

    def read_until(self, until, limit=TIMEOUT):
        """Frames until until(frame) is true, the peer closes or limit passes."""
        deadline = time.monotonic() + limit
        out = []
        while not self.closed and time.monotonic() < deadline:
            for f in self.read_some(deadline):
                out.append(f)
                if until(f):
                    return out
        return out

    def handshake(self):
        """Waits for the server's SETTINGS (and ACKs it)."""
        self.read_until(lambda f: f[0] == SETTINGS and not f[1] & ACK)
        return self

    def headers_of(self, f):
        return dict(self.dec.decode(f[3]))

    def response(self, sid, limit=TIMEOUT):
        """(status, body, frames) of stream sid, reading until its END_STREAM
        or an error; status is None without a response HEADERS."""
        status, body, seen = None, b"", []
        for f in self.read_until(lambda f: f[2] in (0, sid) and (f[1] & END_STREAM and f[0] in (DATA, HEADERS) or
                                                                     f[0] in (RST_STREAM, GOAWAY)), limit):
            seen.append(f)
            if f[0] == HEADERS:
                fields = self.headers_of(f)  # decoded for every stream: the HPACK state is shared
                if f[2] == sid and status is None:
                    status = fields.get(":status")
            elif f[0] == DATA and f[2] == sid:
                body += f[3]
        return status, body, seen

    def reaction(self, limit=TIMEOUT):
        """Reads until the first GOAWAY or RST_STREAM or the close; returns
        (the error frame or None, every frame seen)."""
        seen = self.read_until(lambda f: f[0] in (GOAWAY, RST_STREAM), limit)
        errors = [f for f in seen if f[0] in (GOAWAY, RST_STREAM)]
        return (errors[0] if errors else None), seen

    def ping_roundtrip(self, data=b"pingpong"):
        """Whether a PING is still answered, with every frame seen meanwhile."""
        if not self.send(frame(PING, 0, 0, data)):
            return False, []
        seen = self.read_until(lambda f: f[0] == PING and f[1] & ACK and f[3] == data or f[0] == GOAWAY)
        return any(f[0] == PING and f[1] & ACK and f[3] == data for f in seen), seen

    def close(self):
        self.s.close()


failures = 0


def check(name, ok, observed=None):
    global failures
    print(("ok   " if ok else "FAIL ") + name + (f"  [observed: {observed}]" if observed is not None else ""))
    if not ok:
        failures += 1


def describe(frames, closed=None):
    text = ", ".join(show(f) for f in frames if f[0] not in (SETTINGS, WINDOW_UPDATE)) or "no frames"
    return text + (", then closed" if closed else "")


def expect_error(name, conn, want, limit=TIMEOUT):
    """Checks that the first error the server sends is want: ("GOAWAY", code)
    or ("RST_STREAM", stream, code); a GOAWAY must also close the connection."""
    err, seen = conn.reaction(limit)
    if want[0] == "GOAWAY":
        conn.read_until(lambda f: False, limit)  # the close follows the GOAWAY
        ok = err is not None and err[0] == GOAWAY and code_of(err) == want[1] and conn.closed
    else:
        ok = err is not None and err[0] == RST_STREAM and err[2] == want[1] and code_of(err) == want[2]
    check(name, ok, describe(seen, conn.closed))
    return err, seen


def still_usable(name, conn, sid, path="/"):
    """The connection still serves a request on stream sid."""
    conn.send(frame(HEADERS, END_STREAM | END_HEADERS, sid, conn.enc.encode(request_fields(path))))
    status, _, seen = conn.response(sid)
    check(name, status == "200", describe(seen, conn.closed))


def fresh_client_served(after):
    c = Conn()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
    status, body, _ = c.response(1)
    c.close()
    check(f"a fresh client is served after {after}", status == "200" and body.startswith(b"Hello"))


def hostile(after, conn):
    conn.close()
    fresh_client_served(after)


started = time.monotonic()

# A GET over raw frames works.
fresh_client_served("start-up")

# PING is answered with an ACK carrying the same payload.
c = Conn()
ok, seen = c.ping_roundtrip(b"12345678")
check("PING gets a PING ACK with the same data", ok, describe(seen))
c.close()

# --- connection start ---------------------------------------------------------
# An invalid preface (§3.4: a connection error of type PROTOCOL_ERROR, the
# GOAWAY MAY be omitted): the connection is closed, nothing is served.
c = Conn(preface=b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
c.send(frame(SETTINGS, 0, 0))
seen = c.read_until(lambda f: False)
check("invalid preface: connection closed, nothing served", c.closed and not any(f[0] == HEADERS for f in seen),
      describe(seen, c.closed))
hostile("an invalid preface", c)

# --- stream identifiers (§5.1.1) ----------------------------------------------
# Decreasing stream ids: stream 5, then a new stream 3. §5.1.1: "The
# identifier of a newly established stream MUST be numerically greater than
# all streams that the initiating endpoint has opened ... An endpoint that
# receives an unexpected stream identifier MUST respond with a connection
# error of type PROTOCOL_ERROR". nghttp2 1.52 alone ignores such a HEADERS
# block when it no longer knows the stream (it cannot tell it from late
# trailers of a stream it reset); fastrt-h2 tells them apart itself
# (connection.hpp, headers_frame_begins) and ends the connection as required.
c = Conn().handshake()
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 5, request_block()))
status5, _, _ = c.response(5)
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, request_block()))
err, seen = c.reaction(limit=2.0)
check("decreasing stream id (5, then 3): GOAWAY PROTOCOL_ERROR",
      err is not None and err[0] == GOAWAY and code_of(err) == PROTOCOL_ERROR, describe(seen, c.closed))
check("decreasing stream id: stream 5 served, stream 3 not served",
      status5 == "200" and not any(f[2] == 3 and f[0] == HEADERS for f in seen), describe(seen))
hostile("decreasing stream ids", c)

# A stream id reused: HEADERS on stream 1 after stream 1 closed (both sides
# sent END_STREAM). Stream 1 is closed and the id is not above the last one,
# so §5.1.1 asks for a connection error PROTOCOL_ERROR, and §5.1 ("closed":
# "An endpoint MAY treat receipt of any other type of frame on a closed
# stream as a connection error of type STREAM_CLOSED"; half-closed (remote):
# frames after END_STREAM are STREAM_CLOSED) allows STREAM_CLOSED. nghttp2
# forgets closed streams in fastrt-h2 (session.hpp) and would ignore the
# block; fastrt-h2 answers it as above (PROTOCOL_ERROR).
c = Conn().handshake()
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
status1, _, _ = c.response(1)
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
err, seen = c.reaction(limit=2.0)
c.read_until(lambda f: False, 1.0)
check("reused stream id: first request served", status1 == "200")
check("reused stream id (HEADERS on closed stream 1): GOAWAY STREAM_CLOSED or PROTOCOL_ERROR",
      err is not None and err[0] == GOAWAY and code_of(err) in (STREAM_CLOSED, PROTOCOL_ERROR) and c.closed,
      describe(seen, c.closed))
hostile("a reused stream id", c)

# An even stream id is server-initiated (§5.1.1: "Streams initiated by a
# client MUST use odd-numbered stream identifiers"): connection error
# PROTOCOL_ERROR.
c = Conn().handshake()
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 2, request_block()))
expect_error("even stream id from the client: GOAWAY PROTOCOL_ERROR", c, ("GOAWAY", PROTOCOL_ERROR))
hostile("an even stream id", c)

# --- frames on closed streams (§5.1) ------------------------------------------
# DATA while the stream is half-closed (remote) (after the client's
# END_STREAM, before the response): §6.1 / §5.1 require a stream error
# STREAM_CLOSED (a connection error is allowed, §5.4.1).
c = Conn().handshake()
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()) + frame(DATA, 0, 1, b"late"))
err, seen = c.reaction()
check("DATA after END_STREAM (half-closed remote): STREAM_CLOSED",
      err is not None and code_of(err) == STREAM_CLOSED, describe(seen, c.closed))
hostile("DATA on a half-closed stream", c)

# WINDOW_UPDATE and RST_STREAM on a stream that just closed are allowed (§5.1
# "closed": the peer "might receive a WINDOW_UPDATE or RST_STREAM frame ...
# in the time before the peer receives and processes the frame that closes
# the stream"): no error, the connection keeps working. DATA on the closed
# stream is then STREAM_CLOSED (§6.1: a stream error at least; §5.1 allows a
# connection error).
c = Conn().handshake()
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
status1, _, _ = c.response(1)
c.send(window_update(1, 1000) + rst_stream(1, CANCEL))
ok, seen = c.ping_roundtrip()
check("WINDOW_UPDATE and RST_STREAM on a closed stream: no error",
      status1 == "200" and ok and not any(f[0] in (GOAWAY, RST_STREAM) for f in seen), describe(seen, c.closed))
still_usable("... and the connection serves stream 3", c, 3)
c.send(frame(DATA, 0, 1, b"late"))
err, seen = c.reaction()
check("DATA on a closed stream: STREAM_CLOSED (RST_STREAM or GOAWAY)",
      err is not None and code_of(err) == STREAM_CLOSED, describe(seen, c.closed))
hostile("DATA on a closed stream", c)

# The server forgets closed streams (nghttp2's no_closed_streams: an idle
# connection keeps no stream state) and answers frames on them itself from
# what it remembers of the last 128 client stream ids
# (client_stream_history.hpp): DATA on a stream that closed 100 streams ago
# is STREAM_CLOSED too. Beyond those 128 it ignores them, as nghttp2 does.
# (DATA in flight after the server's own RST_STREAM stays ignored: below.)
c = Conn().handshake()
for sid in range(1, 203, 2):
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, sid, c.enc.encode(request_fields())))
    c.response(sid)
c.send(frame(DATA, 0, 1, b"late"))
err, seen = c.reaction()
check("DATA on a stream that closed 100 streams ago: STREAM_CLOSED",
      err is not None and code_of(err) == STREAM_CLOSED, describe(seen, c.closed))
hostile("DATA on a long-closed stream", c)

# --- header blocks --------------------------------------------------------------
# A header list far above SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB): 120 fields
# of 1000 bytes (~124 KB by §6.5.2's accounting) in a HEADERS and CONTINUATION
# frames of 16384 bytes. RFC 9113 (§6.5.2, §10.5.1) leaves the reaction open
# (431, a stream error, or closing); the block must still be decoded for the
# HPACK state. fastrt-h2 stops collecting fields at the limit, decodes the
# rest and answers 431 (Request Header Fields Too Large, §10.5.1's
# suggestion): asserted exactly, and the connection must stay usable.
c = Conn().handshake()
block = hpack.Encoder().encode(request_fields(extra=[(f"x-big-{i}", chr(97 + i % 26) * 1000) for i in range(120)]))
chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)]
burst = frame(HEADERS, END_STREAM | (END_HEADERS if len(chunks) == 1 else 0), 1, chunks[0])
for i, chunk in enumerate(chunks[1:], 1):
    burst += frame(CONTINUATION, END_HEADERS if i == len(chunks) - 1 else 0, 1, chunk)
c.send(burst)
status, _, seen = c.response(1)
check(f"header list of ~124 KB ({len(block)} bytes of HPACK in {len(chunks)} frames): 431", status == "431",
      describe(seen, c.closed))
still_usable("... and the connection serves stream 3", c, 3)
hostile("an oversized header list", c)

# Invalid HPACK: §4.3 "A decoding error in a field block MUST be treated as a
# connection error of type COMPRESSION_ERROR". RFC 7541 §6.1: index 0 is an
# error; an index beyond the static (61) and dynamic (empty) tables too.
for what, bad in [("index 0", b"\x80"), ("index 70 beyond the tables", bytes([0x80 | 70])),
                  ("a truncated literal", b"\x40\x0aabc")]:
    c = Conn().handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()[:0] + bad))
    expect_error(f"invalid HPACK ({what}): GOAWAY COMPRESSION_ERROR", c, ("GOAWAY", COMPRESSION_ERROR))
    hostile(f"invalid HPACK ({what})", c)

# Malformed requests (§8.1.1: "Malformed requests or responses that are
# detected MUST be treated as a stream error of type PROTOCOL_ERROR"):
# an uppercase field name (§8.2.1), a connection-specific field (§8.2.2) and a
# missing :path (§8.3.1). Stream errors: the connection keeps serving.
for what, fields in [
        ("uppercase field name", request_fields(extra=[("X-Upper", "1")])),
        ("connection: keep-alive", request_fields(extra=[("connection", "keep-alive")])),
        ("transfer-encoding: chunked", request_fields(extra=[("transfer-encoding", "chunked")])),
        ("missing :path", [f for f in request_fields() if f[0] != ":path"]),
        ("pseudo-header after a regular field", [(":method", "GET"), (":scheme", "http"), ("x-a", "1"),
                                                 (":path", "/"), (":authority", "test")])]:
    c = Conn().handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, c.enc.encode(fields)))
    expect_error(f"malformed request ({what}): RST_STREAM PROTOCOL_ERROR", c, ("RST_STREAM", 1, PROTOCOL_ERROR))
    still_usable(f"... ({what}) the connection serves stream 3", c, 3)
    c.close()
fresh_client_served("malformed requests")

# CONTINUATION flood (CVE-2024-27316 class): endless empty CONTINUATIONs. The
# server limits them (nghttp2_option_set_max_continuations); nghttp2 reports
# NGHTTP2_ERR_TOO_MANY_CONTINUATIONS, a fatal error, and fastrt-h2 ends the
# connection with GOAWAY ENHANCE_YOUR_CALM (§5.4.1: SHOULD send a GOAWAY).
c = Conn().handshake()
c.send(frame(HEADERS, 0, 1, request_block()) + b"".join(frame(CONTINUATION, 0, 1, b"") for _ in range(1000)))
err, seen = c.reaction()
c.read_until(lambda f: False, 2.0)
check("CONTINUATION flood: GOAWAY ENHANCE_YOUR_CALM, closed",
      c.closed and err is not None and err[0] == GOAWAY and code_of(err) == ENHANCE_YOUR_CALM, describe(seen, c.closed))
hostile("a CONTINUATION flood", c)

# --- floods: only the flooding connection is closed -----------------------------
# Rapid reset (CVE-2023-44487): open and reset streams in a burst. nghttp2's
# reset rate limit answers with GOAWAY INTERNAL_ERROR (ENHANCE_YOUR_CALM would
# be fine too). A connection opened before the flood must keep working.
other = Conn().handshake()
c = Conn().handshake()
c.send(b"".join(frame(HEADERS, END_HEADERS, 2 * i + 1, request_block()) + rst_stream(2 * i + 1, CANCEL)
                for i in range(3000)))
err, seen = c.reaction()
check("rapid reset: GOAWAY INTERNAL_ERROR or ENHANCE_YOUR_CALM",
      err is not None and err[0] == GOAWAY and code_of(err) in (INTERNAL_ERROR, ENHANCE_YOUR_CALM), show(err) if err else None)
still_usable("rapid reset: a connection opened before it still works", other, 1)
other.close()
hostile("a rapid reset burst", c)


def rss_kib():
    if ARGS.pid is None:
        return None
    with open(f"/proc/{ARGS.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def flood(what, unit, total=64 << 20):
    """Sends up to total bytes of unit frames without reading anything back.
    nghttp2 would stop this with GOAWAY ENHANCE_YOUR_CALM (NGHTTP2_ERR_FLOODED)
    once more than 1000 ACKs wait in its queue; fastrt-h2 flushes after every
    received chunk (4 KiB buffers, < 1000 frames) and a flush waits until the
    socket took the bytes, so the ACKs back up in TCP instead and the server
    stops reading: our sending stalls. Either is bounded; asserted: a
    GOAWAY ENHANCE_YOUR_CALM or a stall long before total, the server's
    memory not growing with the flood, and a connection opened before the
    flood still working while the flooder stays connected."""
    other = Conn().handshake()
    c = Conn(buffers=64 << 10).handshake()
    rss_before = rss_kib()
    block = unit * ((1 << 20) // len(unit))
    sent, outcome, t0 = 0, "all sent", time.monotonic()
    c.s.settimeout(1.0)  # a stall: the server took nothing for a second
    view = memoryview(block)
    while sent < total:
        try:
            sent += c.s.send(view[sent % len(block):])  # whole frames only, in order
        except socket.timeout:
            outcome = "stalled"
            break
        except OSError:
            outcome = "reset"
            break
    rss_after = rss_kib()
    growth = None if rss_before is None else rss_after - rss_before
    err = None
    if outcome != "stalled":  # the server ended it: look for its GOAWAY
        c.s.settimeout(TIMEOUT)
        err, _ = c.reaction(limit=2.0)
    observed = (f"{outcome} after {sent >> 10} KiB in {time.monotonic() - t0:.2f}s, "
                f"{show(err) if err else 'no GOAWAY read'}, server VmRSS +{growth} KiB")
    check(f"{what} flood without reading: GOAWAY ENHANCE_YOUR_CALM, or stalled by back-pressure with bounded memory",
          (err is not None and err[0] == GOAWAY and code_of(err) == ENHANCE_YOUR_CALM) or
          (outcome == "stalled" and sent < total // 2 and (growth is None or growth < 16 << 10)), observed)
    still_usable(f"{what} flood: a connection opened before it still works (the flooder still connected)", other, 1)
    other.close()
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # no FIN wait on unread data
    hostile(f"a {what} flood", c)


flood("SETTINGS", frame(SETTINGS, 0, 0))
flood("PING", frame(PING, 0, 0, b"floodfld"))

# --- flow control (§6.9) ----------------------------------------------------------
# §6.9.1: "A sender MUST NOT allow a flow-control window to exceed 2^31-1
# octets. If a sender receives a WINDOW_UPDATE that causes a flow-control
# window to exceed this maximum, it MUST terminate either the stream or the
# connection, as appropriate ... with a GOAWAY / RST_STREAM frame with
# FLOW_CONTROL_ERROR".
c = Conn().handshake()
c.send(window_update(0, MAX_WINDOW))  # 65535 + 2^31-1
expect_error("connection window above 2^31-1: GOAWAY FLOW_CONTROL_ERROR", c, ("GOAWAY", FLOW_CONTROL_ERROR))
hostile("a connection window overflow", c)

c = Conn().handshake()
c.send(frame(HEADERS, END_HEADERS, 1, request_block("/echo", "POST")) + window_update(1, MAX_WINDOW))
expect_error("stream window above 2^31-1: RST_STREAM FLOW_CONTROL_ERROR", c, ("RST_STREAM", 1, FLOW_CONTROL_ERROR))
still_usable("... and the connection serves stream 3", c, 3)
hostile("a stream window overflow", c)

# §6.9: "A receiver MUST treat the receipt of a WINDOW_UPDATE frame with a
# flow-control window increment of 0 as a stream error of type
# PROTOCOL_ERROR; errors on the connection flow-control window MUST be
# treated as a connection error".
c = Conn().handshake()
c.send(window_update(0, 0))
expect_error("WINDOW_UPDATE increment 0 on the connection: GOAWAY PROTOCOL_ERROR", c, ("GOAWAY", PROTOCOL_ERROR))
hostile("a connection WINDOW_UPDATE of 0", c)

c = Conn().handshake()
c.send(frame(HEADERS, END_HEADERS, 1, request_block("/echo", "POST")) + window_update(1, 0))
# nghttp2 treats it as a connection error (session_on_stream_window_update_
# received), which §5.4.1 permits: "an endpoint MAY choose to treat a stream
# error as a connection error". Asserted: PROTOCOL_ERROR, RST_STREAM(1) or
# GOAWAY; the observed frame is printed.
err, seen = c.reaction()
check("WINDOW_UPDATE increment 0 on a stream: PROTOCOL_ERROR (RST_STREAM, or GOAWAY as §5.4.1 allows)",
      err is not None and code_of(err) == PROTOCOL_ERROR and (err[0] == GOAWAY or err[2] == 1),
      describe(seen, c.closed))
if err is not None and err[0] == RST_STREAM:
    still_usable("... and the connection serves stream 3", c, 3)
hostile("a stream WINDOW_UPDATE of 0", c)

# --- SETTINGS and frame sizes (§6.5.2, §4.2) --------------------------------------
for what, payload, code in [
        # §6.5.2: "Values above the maximum flow-control window size of 2^31-1
        # MUST be treated as a connection error of type FLOW_CONTROL_ERROR."
        ("SETTINGS_INITIAL_WINDOW_SIZE 2^31", settings_payload((SETTINGS_INITIAL_WINDOW_SIZE, 2**31)),
         FLOW_CONTROL_ERROR),
        # §6.5.2: "Any value other than 0 or 1 MUST be treated as a connection
        # error of type PROTOCOL_ERROR."
        ("SETTINGS_ENABLE_PUSH 2", settings_payload((SETTINGS_ENABLE_PUSH, 2)), PROTOCOL_ERROR),
        # §6.5.2: SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1 is PROTOCOL_ERROR.
        ("SETTINGS_MAX_FRAME_SIZE 16383", settings_payload((SETTINGS_MAX_FRAME_SIZE, 16383)), PROTOCOL_ERROR),
        # §6.5: "A SETTINGS frame with a length other than a multiple of 6
        # octets MUST be treated as a connection error of type FRAME_SIZE_ERROR."
        ("SETTINGS of length 5", b"\x00\x04\x00\x00\x01", FRAME_SIZE_ERROR)]:
    c = Conn().handshake()
    c.send(frame(SETTINGS, 0, 0, payload))
    expect_error(f"{what}: GOAWAY {ERRORS[code]}", c, ("GOAWAY", code))
    hostile(what, c)

def block_of_size(size):
    """A valid request field block of exactly size bytes (no Huffman coding)."""
    pad = size - len(hpack.Encoder().encode(request_fields(extra=[("x-pad", "")]), huffman=False))
    while True:
        block = hpack.Encoder().encode(request_fields(extra=[("x-pad", "p" * pad)]), huffman=False)
        if len(block) == size:
            return block
        pad -= len(block) - size


for what, data, code in [
        # §6.5: a SETTINGS ACK with a payload is FRAME_SIZE_ERROR.
        ("SETTINGS ACK with a payload", frame(SETTINGS, ACK, 0, settings_payload((SETTINGS_ENABLE_PUSH, 0))),
         FRAME_SIZE_ERROR),
        # §6.7: a PING whose length is not 8 is FRAME_SIZE_ERROR.
        ("PING of length 7", frame(PING, 0, 0, b"1234567"), FRAME_SIZE_ERROR),
        # §4.2: "An endpoint MUST send an error code of FRAME_SIZE_ERROR if a
        # frame exceeds the size defined in SETTINGS_MAX_FRAME_SIZE" (16384 by
        # default, the server does not raise it); on a frame that can alter
        # the connection state, or any frame on stream 0 such as this DATA on a
        # stream, a connection error.
        ("DATA frame of 16385 bytes", frame(HEADERS, END_HEADERS, 1, request_block("/echo", "POST")) +
         frame(DATA, END_STREAM, 1, b"x" * 16385), FRAME_SIZE_ERROR),
        ("HEADERS frame of 16385 bytes", frame(HEADERS, END_STREAM | END_HEADERS, 1, block_of_size(16385)),
         FRAME_SIZE_ERROR)]:
    c = Conn().handshake()
    c.send(data)
    expect_error(f"{what}: GOAWAY {ERRORS[code]}", c, ("GOAWAY", code))
    hostile(what, c)

# --- streams ------------------------------------------------------------------------
# Many concurrent streams on one connection all get answers.
c = Conn()
c.send(b"".join(frame(HEADERS, END_STREAM | END_HEADERS, 2 * i + 1, request_block("/cpp/hello")) for i in range(50)))
done = set()
c.read_until(lambda f: f[0] in (HEADERS, DATA) and f[1] & END_STREAM and not done.add(f[2]) and len(done) == 50)
check("50 concurrent streams all answered", len(done) == 50)
c.close()

# Above SETTINGS_MAX_CONCURRENT_STREAMS (100, acknowledged): §5.1.2 "MUST
# treat this as a stream error of type PROTOCOL_ERROR or REFUSED_STREAM"
# (a connection error is allowed too, §5.4.1). 101 POSTs are opened without
# their bodies, so all stay open.
c = Conn().handshake()
c.send(b"".join(frame(HEADERS, END_HEADERS, 2 * i + 1, request_block("/echo", "POST")) for i in range(101)))
err, seen = c.reaction()
check("101st concurrent stream: RST_STREAM(201) REFUSED_STREAM or PROTOCOL_ERROR, or GOAWAY",
      err is not None and (err[0] == RST_STREAM and err[2] == 201 and code_of(err) in (REFUSED_STREAM, PROTOCOL_ERROR)
                           or err[0] == GOAWAY and code_of(err) in (REFUSED_STREAM, PROTOCOL_ERROR)),
      describe(seen, c.closed))
if err is not None and err[0] == RST_STREAM:
    c.send(b"".join(frame(DATA, END_STREAM, 2 * i + 1, b"%d" % i) for i in range(100)))
    bodies = {}
    for f in c.read_until(lambda f: f[0] == DATA and f[1] & END_STREAM and len(bodies) == 99 or f[0] == GOAWAY):
        if f[0] == HEADERS:
            c.headers_of(f)
        if f[0] == DATA and f[1] & END_STREAM:
            bodies[f[2]] = f[3]
    check("... and the 100 open streams are answered",
          len(bodies) == 100 and all(bodies[2 * i + 1] == b"%d" % i for i in range(100)), f"{len(bodies)} answers")
hostile("too many concurrent streams", c)

# The refused streams' bodies sent after all their HEADERS, before the
# RST_STREAMs can reach the client: frames in flight after our RST_STREAM
# are ignored (§5.1 "closed"), not taken for DATA on a closed stream, however
# many streams were refused meanwhile (here 100: 201..399); the open streams
# go on. (Sent before the client acknowledges the server's SETTINGS: nghttp2
# then refuses streams above 100, a stream error; once acknowledged, it is
# the connection error seen above.)
c = Conn()
c.send(b"".join(frame(HEADERS, END_HEADERS, 2 * i + 1, request_block("/echo", "POST")) for i in range(200)) +
       b"".join(frame(DATA, END_STREAM, sid, b"refused") for sid in (201, 203, 301, 399)))
err, seen = c.reaction()
c.send(frame(DATA, END_STREAM, 1, b"first"))
status, body, later = c.response(1)
check("streams 201..399 refused, their DATA after all their HEADERS: RST_STREAM(201) REFUSED_STREAM, no GOAWAY, "
      "then stream 1 answered",
      err is not None and err[0] == RST_STREAM and err[2] == 201 and code_of(err) == REFUSED_STREAM and
      status == "200" and body == b"first" and not any(f[0] == GOAWAY for f in seen + later),
      describe(seen + later, c.closed))
hostile("refused streams' DATA", c)

# A client vanishing mid-request: HEADERS without END_STREAM and half of the
# announced body, then a FIN, or an RST (SO_LINGER 0). The server drops the
# request and keeps serving (checked with a connection opened before).
for how in ("FIN", "RST"):
    other = Conn().handshake()
    c = Conn().handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block("/echo", "POST", [("content-length", "2000")])) +
           frame(DATA, 0, 1, b"h" * 1000))
    c.ping_roundtrip()  # the server has seen the half request
    if how == "RST":
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    still_usable(f"client vanishing mid-request ({how}): another connection still works", other, 1)
    other.close()
    fresh_client_served(f"a client vanishing mid-request ({how})")

# --- requests -------------------------------------------------------------------------
# Cookie crumbs (§8.2.3): several cookie fields reach the app joined with "; "
# in order (the demo app's GET /headers prints "name: value" per line).
c = Conn().handshake()
c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, c.enc.encode(request_fields(
    "/headers", extra=[("cookie", "a=1"), ("x-between", "yes"), ("cookie", "b=2"), ("cookie", "c=3")]))))
status, body, seen = c.response(1)
lines = body.decode(errors="replace").splitlines()
check("cookie crumbs joined with '; ' in order", status == "200" and "cookie: a=1; b=2; c=3" in lines
      and "x-between: yes" in lines, lines)
c.close()


def upload(conn, sid, path, body, extra=(), limit=30.0):
    """POSTs body on stream sid honouring the server's flow-control windows
    and SETTINGS_MAX_FRAME_SIZE, reads the response granting WINDOW_UPDATEs
    as it consumes DATA; returns (status, response body, problems)."""
    problems = []
    max_frame = conn.server_settings.get(SETTINGS_MAX_FRAME_SIZE, 16384)
    conn_send = 65535
    stream_send = conn.server_settings.get(SETTINGS_INITIAL_WINDOW_SIZE, 65535)
    conn_recv = stream_recv = 65535  # ours: the defaults (our SETTINGS are empty)
    conn.send(frame(HEADERS, END_HEADERS, sid, conn.enc.encode(request_fields(path, "POST", extra))))
    offset, status, received, done = 0, None, bytearray(), False
    deadline = time.monotonic() + limit
    while not done and time.monotonic() < deadline and not conn.closed:
        while offset < len(body) and min(conn_send, stream_send) > 0:
            n = min(len(body) - offset, max_frame, conn_send, stream_send)
            last = offset + n == len(body)
            if not conn.send(frame(DATA, END_STREAM if last else 0, sid, body[offset:offset + n])):
                problems.append("send failed")
                return status, bytes(received), problems
            offset += n
            conn_send -= n
            stream_send -= n
        if offset < len(body) or not done:
            # Wait for something to read, the server must move a window or answer.
            for f in conn.read_some(min(deadline, time.monotonic() + TIMEOUT)):
                kind, flags, fsid, payload = f
                if kind == WINDOW_UPDATE:
                    inc = int.from_bytes(payload, "big") & 0x7FFFFFFF
                    if fsid == 0:
                        conn_send += inc
                    elif fsid == sid:
                        stream_send += inc
                elif kind == HEADERS:
                    fields = conn.headers_of(f)
                    if fsid == sid:
                        status = fields.get(":status")
                        done = done or bool(flags & END_STREAM)
                elif kind == DATA and fsid == sid:
                    conn_recv -= len(payload)
                    stream_recv -= len(payload)
                    if conn_recv < 0 or stream_recv < 0:
                        problems.append(f"the server overran our window ({conn_recv}, {stream_recv})")
                    received += payload
                    done = bool(flags & END_STREAM)
                    if payload:
                        conn.send(window_update(0, len(payload)))
                        conn_recv += len(payload)
                        if not done:
                            conn.send(window_update(sid, len(payload)))
                            stream_recv += len(payload)
                elif kind in (GOAWAY, RST_STREAM) and fsid in (0, sid):
                    problems.append(show(f))
                    if kind == RST_STREAM and status is not None and code_of(f) == NO_ERROR:
                        continue  # an early response may end the upload with RST_STREAM(NO_ERROR), §8.1
                    return status, bytes(received), problems
    if not done:
        problems.append(f"no complete response (sent {offset} of {len(body)}, received {len(received)})")
    return status, bytes(received), problems


# A body above --max-body-size (4096 here): 413, and the connection goes on.
c = Conn().handshake()
status, _, problems = upload(c, 1, "/echo", b"z" * 20000)
check("body above --max-body-size over raw frames: 413", status == "413", problems or None)
still_usable("... and the connection serves the next stream", c, 3)
c.close()

# DATA still in flight after the server's own RST_STREAM is ignored (§5.1
# "closed": "MUST ignore frames that it receives on closed streams after it
# has sent a RST_STREAM frame"), although the server no longer keeps the
# stream: a body longer than its content-length is a stream error (§8.1.1,
# RST_STREAM PROTOCOL_ERROR), and the client, not yet aware, sends more.
c = Conn().handshake()
c.send(frame(HEADERS, END_HEADERS, 1, request_block("/echo", "POST", [("content-length", "5")])) +
       frame(DATA, 0, 1, b"z" * 10))
err, seen = c.reaction()
c.send(frame(DATA, 0, 1, b"z" * 1000) + frame(DATA, END_STREAM, 1, b"z"))
ok, after = c.ping_roundtrip()
check("DATA after the server's RST_STREAM (body beyond content-length): ignored, no error",
      err is not None and err[0] == RST_STREAM and err[2] == 1 and code_of(err) == PROTOCOL_ERROR and ok and
      not any(f[0] in (GOAWAY, RST_STREAM) for f in after), describe(seen + after, c.closed))
still_usable("... and the connection serves the next stream", c, 3)
c.close()

# A large request body, echoed as a large response: 3 MiB each way over
# DATA frames honouring both sides' windows (needs a server with a larger
# --max-body-size).
if ARGS.big_port is not None:
    payload = os.urandom(3 * 1024 * 1024)
    c = Conn(ARGS.big_port).handshake()
    t0 = time.monotonic()
    status, echoed, problems = upload(c, 1, "/echo", payload)
    check(f"3 MiB request body echoed intact as a 3 MiB response ({time.monotonic() - t0:.2f}s)",
          status == "200" and echoed == payload and not problems,
          f"status {status}, {len(echoed)} bytes, {problems}")
    still_usable("... and the connection serves the next stream", c, 3)
    c.close()
else:
    print("skip large request and response bodies (no --big-port)")

print(f"raw-frame suite: {time.monotonic() - started:.1f}s, {failures} failure(s)")
sys.exit(failures)
