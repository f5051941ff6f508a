"""wsgi.input read as the body arrives, against fastrt-h2 serving
tests/python/fastrt_wsgi_app.py:app with one pinned worker (wsgi_test.sh
starts it). python-h2 (Debian's python3-h2), /usr/bin/python3.

Usage: wsgi_input_client.py PORT
  - /input-first-line answers the first line while the rest of the body has
    not been sent (the app runs before END_STREAM);
  - /input-hash reads a 3 MiB upload in 64 KiB chunks: sha256 and length
    match, CONTENT_LENGTH is the header's;
  - /input-lines: readline(size), readlines(hint), iteration, read() at EOF;
  - /input-wait: the client resets mid-upload; the app's blocked read raises
    OSError (counted by the app) and the worker serves the next request.
Prints one line per check; exit status: the number of failures. Every wait is
bounded (a few seconds each)."""
import hashlib
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events

PORT = int(sys.argv[1])
TIMEOUT = 5.0
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
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, wait):
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
                r = self.responses.setdefault(getattr(event, "stream_id", 0), [None, b"", False])
                if isinstance(event, h2.events.ResponseReceived):
                    r[0] = dict(event.headers).get(":status")
                elif isinstance(event, h2.events.DataReceived):
                    r[1] += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    r[2] = True
            self.flush()

    def start(self, method, path, extra=()):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path),
                                     *extra], end_stream=method == "GET")
        self.flush()
        return sid

    def send(self, sid, data, end=False, limit=3 * TIMEOUT):
        deadline = time.monotonic() + limit
        sent = 0
        while sent < len(data) and time.monotonic() < deadline:
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(data) - sent)
            if n > 0:
                self.conn.send_data(sid, data[sent:sent + n])
                sent += n
                self.flush()
            else:
                self.pump(0.02)
        if end:
            self.conn.end_stream(sid)
            self.flush()
        return sent

    def answer(self, sid, limit=TIMEOUT):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.responses.get(sid, [None, b"", False])[2]:
            self.pump(0.05)
        return self.responses.get(sid)


c = Client()
c.pump(0.2)

sid = c.start("POST", "/input-first-line")
c.send(sid, b"hello\nworld")
r = c.answer(sid, 3.0)
check("the app answers the first line before the body ends", r is not None and r[:2] == ["200", b"hello\n"], repr(r))
c.send(sid, b" and the rest\n", end=True)

upload = os.urandom(3 * 1024 * 1024)
sid = c.start("POST", "/input-hash", [("content-length", str(len(upload)))])
c.send(sid, upload, end=True)
r = c.answer(sid, 3 * TIMEOUT)
parts = r[1].decode().split() if r and r[0] == "200" else []
check("3 MiB read in 64 KiB chunks: length and sha256 match",
      parts[:2] == [str(len(upload)), hashlib.sha256(upload).hexdigest()], repr(r and r[1][:120]))
check("read in many chunks", len(parts) > 2 and int(parts[2]) >= 48, repr(parts))
check("CONTENT_LENGTH is the header's", parts[3:] == [str(len(upload))], repr(parts))

sid = c.start("POST", "/input-lines")
c.send(sid, b"abc\nde\nf\ng", end=True)
r = c.answer(sid)
check("readline(2), readlines(1), iteration, read() at the end",
      r is not None and r[1] == repr((b"ab", [b"c\n"], [b"de\n", b"f\n", b"g"], b"")).encode(), repr(r))

sid = c.start("POST", "/input-wait")
c.send(sid, b"x" * 1000)
c.pump(0.3)
c.conn.reset_stream(sid, error_code=8)  # CANCEL
c.flush()
errors = None
deadline = time.monotonic() + TIMEOUT
while time.monotonic() < deadline:
    r = c.answer(c.start("GET", "/input-errors"))
    errors = r and r[1]
    if errors == b"1":
        break
    time.sleep(0.05)
check("a reset mid-upload: the blocked read raised OSError", errors == b"1", repr(errors))
r = c.answer(c.start("GET", "/closed"))
check("the same worker serves the next request", r is not None and r[0] == "200", repr(r))
sys.exit(failures)
