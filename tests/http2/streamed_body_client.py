"""A python-h2 client for streamed request bodies; run with /usr/bin/python3
(Debian's python3-h2). Every socket wait is bounded (TIMEOUT), each mode by
a few seconds. Prints one line per check ("ok ..." / "FAIL ..."); exit
status: the number of failures.

Usage: streamed_body_client.py PORT MODE
  Against tests/http2_request_body_test.cpp's C++ server:
  window  PUT /hold (a handler that reads nothing until GET /release): the
          client sends as much as the windows let it and must stall after
          the stream's window (64 KiB) and one frame at most, while the
          connection window reopens (a buffered POST on the same connection
          is answered meanwhile); after GET /release the whole 1 MiB upload
          goes through and the answer's checksum is the client's.
  reset   PUT /watch, 1000 bytes, then RST_STREAM(CANCEL): the server's
          handler sees its read fail (the C++ test checks); the connection
          still serves a GET afterwards.
  stall   PUT /watch, 1000 bytes, then nothing (the server's --body-timeout
          is short): 408, then RST_STREAM(NO_ERROR), within 3 s.
  broken  PUT /watch, 1000 bytes, then a DATA frame over the frame size
          limit: GOAWAY(FRAME_SIZE_ERROR) and the connection closes at once
          (the handler's read fails, the C++ test checks; it must not keep
          the connection open).
  Against fastrt-h2 with one pinned worker (tests/http2/wsgi_test.sh):
  wsgi    tests/python/fastrt_wsgi_app.py:app — wsgi.input read as the body
          arrives: the first line answered before the body ends, a 3 MiB
          upload hashed in 64 KiB reads (CONTENT_LENGTH the header's),
          readline/readlines/iteration, and a reset mid-upload that makes the
          blocked read raise OSError while the worker serves the next request.
  native  tests/http2/test_app.py:app — the same with fastrt.Request:
          chunks() before the body ends, read(65536) of a 3 MiB upload, the
          lazy request.body, a reset mid-read.
  async   tests/http2/async_app.py:app — `async for piece in
          request.stream()`: the first piece before the body ends, a 3 MiB
          upload hashed while a GET /sleep on the same (only) worker is
          answered meanwhile (the event loop does not block), a reset mid-read
          (the task is cancelled).
  Against fastrt-h2 with tests/python/fastrt_asgi_app.py:app, one pinned
  worker (tests/http2/asgi_edges_test.sh): `window` above (the app's /hold
  does not call receive() until GET /release), and
  duplex  POST /echo: the app sends http.response.start, then each chunk it
          receives back (more_body True); a 1 MiB upload is echoed back
          intact, the echo arriving while the client is still sending.
"""
import hashlib
import os
import socket
import sys
import time
import zlib

import h2.config
import h2.connection
import h2.events
import h2.exceptions

PORT = int(sys.argv[1])
MODE = sys.argv[2]
TIMEOUT = 5.0
WINDOW = 65535          # the server's initial stream window (nghttp2's default)
FRAME = 16384           # SETTINGS_MAX_FRAME_SIZE's default
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail and not ok else ""))
    if not ok:
        failures += 1


class Client:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=TIMEOUT)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.responses = {}  # stream id -> [status, body, ended]
        self.resets = {}     # stream id -> error code
        self.stream_updates = {}  # stream id -> WINDOW_UPDATE increments received
        self.connection_updates = 0
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, wait):
        """Reads and handles frames for up to `wait` seconds."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            if not data:
                return
            for event in self.conn.receive_data(data):
                sid = getattr(event, "stream_id", 0)
                if isinstance(event, h2.events.WindowUpdated):
                    if sid == 0:
                        self.connection_updates += event.delta
                    else:
                        self.stream_updates[sid] = self.stream_updates.get(sid, 0) + event.delta
                    continue
                if isinstance(event, h2.events.StreamReset):
                    self.resets[sid] = event.error_code
                    continue
                if not sid:
                    continue
                r = self.responses.setdefault(sid, [None, b"", False])
                if isinstance(event, h2.events.ResponseReceived):
                    r[0] = dict(event.headers).get(":status")
                elif isinstance(event, h2.events.DataReceived):
                    r[1] += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
                elif isinstance(event, h2.events.StreamEnded):
                    r[2] = True
            self.flush()

    def start(self, method, path, extra=(), end_stream=None):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path),
                                     *extra], end_stream=method == "GET" if end_stream is None else end_stream)
        self.flush()
        return sid

    def send_allowed(self, sid, data, offset):
        """Sends from data[offset:] what both windows allow; the new offset."""
        while offset < len(data):
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(data) - offset)
            if n <= 0:
                break
            self.conn.send_data(sid, data[offset:offset + n])
            offset += n
        self.flush()
        return offset

    def send(self, sid, data, end=False, limit=3 * TIMEOUT):
        """Sends all of `data` as the windows open (bounded by `limit`)."""
        deadline = time.monotonic() + limit
        sent = 0
        while sent < len(data) and time.monotonic() < deadline:
            sent = self.send_allowed(sid, data, sent)
            if sent < len(data):
                self.pump(0.02)
        if end:
            self.conn.end_stream(sid)
            self.flush()
        return sent

    def answer(self, sid, limit=TIMEOUT):
        """The response [status, body, ended] of stream `sid` once it ended (or was reset), or what came in time."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.responses.get(sid, [None, b"", False])[2] \
                and sid not in self.resets:
            self.pump(0.05)
        return self.responses.get(sid)


def window():
    body = os.urandom(1 << 20)
    c = Client()
    c.pump(0.2)  # SETTINGS exchange
    hold = c.start("PUT", "/hold", end_stream=False)
    sent = 0
    # Send while the windows allow; stop once nothing opened the stream's
    # window for a second.
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.0 and sent < len(body):
        before, updates = sent, c.stream_updates.get(hold, 0)
        sent = c.send_allowed(hold, body, sent)
        c.pump(0.1)
        if sent != before or c.stream_updates.get(hold, 0) != updates:
            quiet_since = time.monotonic()
    check(f"the unread stream stalls after its window: {sent} bytes through (<= {WINDOW} + {FRAME})",
          sent <= WINDOW + FRAME, f"{sent} of {len(body)} went through before the handler read anything")
    check("no WINDOW_UPDATE for the unread stream", c.stream_updates.get(hold, 0) == 0,
          str(c.stream_updates.get(hold, 0)))
    check("the connection window reopened meanwhile", c.connection_updates >= sent - FRAME, str(c.connection_updates))
    # Another stream on the same connection is not starved.
    other = os.urandom(32768)
    sid = c.start("POST", "/buffered", end_stream=False)
    c.send(sid, other, end=True, limit=TIMEOUT)
    r = c.answer(sid)
    check("a buffered POST on the same connection is answered meanwhile",
          r is not None and r[0] == "200" and r[1] == f"{len(other)} {zlib.adler32(other)}".encode(), repr(r))
    check("the held stream is still unanswered", hold not in c.responses and hold not in c.resets)
    # Let the handler read: the rest goes through, piece by piece.
    r = c.answer(c.start("GET", "/release"))
    check("GET /release answered", r is not None and r[0] == "200", repr(r))
    sent += c.send(hold, body[sent:], end=True)
    r = c.answer(hold, 3 * TIMEOUT)
    check("after release the whole upload goes through and the checksum matches",
          sent == len(body) and r is not None and r[0] == "200" and r[1] == f"{len(body)} {zlib.adler32(body)}".encode(),
          repr(r and (r[0], r[1][:80])))


def reset_mid_body(c, path, errors_path):
    """Starts `path`, sends 1000 bytes, resets; True once `errors_path` says a read failed."""
    sid = c.start("POST" if errors_path else "PUT", path, end_stream=False)
    c.send(sid, b"x" * 1000)
    c.pump(0.3)
    c.conn.reset_stream(sid, error_code=8)  # CANCEL
    c.flush()
    if not errors_path:
        c.pump(0.3)
        return sid not in c.responses
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        r = c.answer(c.start("GET", errors_path))
        if r and r[1] == b"1":
            return True
        time.sleep(0.05)
    return False


def reset():
    c = Client()
    c.pump(0.2)
    check("no answer on the reset stream", reset_mid_body(c, "/watch", None))
    r = c.answer(c.start("GET", "/release"))
    check("the connection serves a GET after the reset", r is not None and r[0] == "200", repr(r))


def stall():
    c = Client()
    c.pump(0.2)
    sid = c.start("PUT", "/watch", end_stream=False)
    c.send(sid, b"x" * 1000)
    r = c.answer(sid, 3.0)
    c.pump(0.3)  # the RST_STREAM after the answer
    check("a stalled body gets 408 and RST_STREAM(NO_ERROR)",
          r is not None and r[0] == "408" and c.resets.get(sid) == 0, repr((r, c.resets)))


def broken():
    c = Client()
    c.pump(0.2)
    sid = c.start("PUT", "/watch", end_stream=False)
    c.send(sid, b"x" * 1000)
    c.pump(0.2)
    c.sock.sendall((FRAME + 1).to_bytes(3, "big") + bytes([0, 0]) + sid.to_bytes(4, "big") + b"y" * (FRAME + 1))
    start = time.monotonic()
    closed = False
    c.sock.settimeout(0.1)
    while not closed and time.monotonic() - start < 3.0:
        try:
            closed = c.sock.recv(65536) == b""
        except socket.timeout:
            pass
        except OSError:
            closed = True
    check(f"a connection error closes the connection at once ({time.monotonic() - start:.2f} s)", closed)


def upload_checks(c, path, what, meanwhile=None):
    """A 3 MiB upload to `path`, which answers "LENGTH SHA256 READS [CONTENT_LENGTH]";
    `meanwhile()` runs when half of it is sent."""
    upload = os.urandom(3 * 1024 * 1024)
    half = len(upload) // 2
    sid = c.start("POST", path, [("content-length", str(len(upload)))], end_stream=False)
    c.send(sid, upload[:half])
    if meanwhile:
        meanwhile()
    c.send(sid, upload[half:], end=True)
    r = c.answer(sid, 3 * TIMEOUT)
    parts = r[1].decode().split() if r and r[0] == "200" else []
    check(f"3 MiB {what}: length and sha256 match",
          parts[:2] == [str(len(upload)), hashlib.sha256(upload).hexdigest()], repr(r and r[1][:120]))
    check("read in many pieces", len(parts) > 2 and int(parts[2]) >= 48, repr(parts))
    return parts


def first_piece_early(c, path):
    """`path` answers the first line of the body before the body has ended."""
    sid = c.start("POST", path, end_stream=False)
    c.send(sid, b"hello\nworld")
    r = c.answer(sid, 3.0)
    check(f"{path} answers before the body ends", r is not None and r[:2] == ["200", b"hello\n"], repr(r))
    c.send(sid, b" and the rest\n", end=True)


def post(c, path, body, limit=3 * TIMEOUT):
    """POST `body` to `path`: the answer [status, body, ended]."""
    sid = c.start("POST", path, end_stream=False)
    c.send(sid, body, end=True)
    return c.answer(sid, limit)


def reset_then_served(c, path, errors_path, next_path):
    """A reset mid-upload makes the blocked read fail; the worker then serves `next_path`."""
    check("a reset mid-upload: the blocked read raised OSError", reset_mid_body(c, path, errors_path))
    r = c.answer(c.start("GET", next_path))
    check("the same worker serves the next request", r is not None and r[0] == "200", repr(r))


def wsgi():
    c = Client()
    c.pump(0.2)
    first_piece_early(c, "/input-first-line")
    parts = upload_checks(c, "/input-hash", "read from wsgi.input in 64 KiB chunks")
    check("CONTENT_LENGTH is the header's", parts[3:] == [str(3 * 1024 * 1024)], repr(parts))
    r = post(c, "/input-lines", b"abc\nde\nf\ng")
    check("readline(2), readlines(1), iteration, read() at the end",
          r is not None and r[1] == repr((b"ab", [b"c\n"], [b"de\n", b"f\n", b"g"], b"")).encode(), repr(r))
    reset_then_served(c, "/input-wait", "/input-errors", "/closed")


def native():
    c = Client()
    c.pump(0.2)
    first_piece_early(c, "/first-chunk")
    upload_checks(c, "/read-hash", "from request.read(65536)")
    upload = os.urandom(2 * 1024 * 1024)
    r = post(c, "/echo", upload)
    check("the lazy request.body is the whole upload", r is not None and r[0] == "200" and r[1] == upload,
          repr(r and (r[0], len(r[1]))))
    reset_then_served(c, "/read-wait", "/read-errors", "/hits")


def async_stream():
    c = Client()
    c.pump(0.2)
    first_piece_early(c, "/first-chunk")

    def get_meanwhile():
        start = time.monotonic()
        r = c.answer(c.start("GET", "/sleep?s=0"), 3.0)
        check(f"a GET on the worker is answered while its upload waits ({time.monotonic() - start:.2f} s)",
              r is not None and r[:2] == ["200", b"slept\n"], repr(r))

    upload_checks(c, "/stream-hash", "from request.stream()", get_meanwhile)
    check("a reset mid-upload: the waiting task was cancelled", reset_mid_body(c, "/stream-wait", "/stream-errors"))


def duplex():
    upload = os.urandom(1 << 20)
    c = Client()
    c.pump(0.2)
    sid = c.start("POST", "/echo", end_stream=False)
    sent = 0
    echoed_while_sending = 0
    deadline = time.monotonic() + 3 * TIMEOUT
    try:
        while sent < len(upload) and time.monotonic() < deadline:
            sent = c.send_allowed(sid, upload, sent)
            c.pump(0.01)
            if sent < len(upload):
                echoed_while_sending = len(c.responses.get(sid, [None, b"", False])[1])
        c.conn.end_stream(sid)
        c.flush()
    except h2.exceptions.StreamClosedError:
        check("full duplex: the server took the whole upload", False, f"the stream closed after {sent} bytes")
    r = c.answer(sid, 3 * TIMEOUT)
    check(f"full duplex: the echo came while the upload was sent ({echoed_while_sending} bytes echoed "
          f"before its end, more than the stream window)", echoed_while_sending > WINDOW, str(echoed_while_sending))
    check("full duplex: 1 MiB echoed back intact, the stream ended",
          r is not None and r[0] == "200" and r[2] and r[1] == upload,
          repr(r and (r[0], len(r[1]), r[2], hashlib.sha256(r[1]).hexdigest() == hashlib.sha256(upload).hexdigest())))


{"window": window, "duplex": duplex, "reset": reset, "stall": stall, "broken": broken, "wsgi": wsgi, "native": native,
 "async": async_stream}[MODE]()
sys.exit(failures)
