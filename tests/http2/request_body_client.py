"""A python-h2 client for streamed request bodies (tests/http2_request_body_test.cpp
starts it against its server; run with /usr/bin/python3, Debian's python3-h2).

Usage: request_body_client.py PORT window|reset
  window  PUT /hold (a handler that reads nothing until GET /release): the
          client sends as much as the windows let it and must stall after
          the stream's window (64 KiB) and one frame at most, while the
          connection window reopens (a buffered POST on the same connection
          is answered meanwhile); after GET /release the whole 1 MiB upload
          goes through and the answer's checksum is the client's.
  reset   PUT /watch, 1000 bytes, then RST_STREAM(CANCEL): the server's
          handler sees its read fail (the C++ test checks); the connection
          still serves a GET afterwards.
Prints one line per check ("ok ..." / "FAIL ..."); exit status: failures.
Every socket wait is bounded (TIMEOUT), the whole run by a few seconds."""
import os
import socket
import sys
import time
import zlib

import h2.config
import h2.connection
import h2.events

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
        self.flush()
        self.responses = {}   # stream id -> [status, body bytes, ended]
        self.resets = {}      # stream id -> error code
        self.stream_updates = {}  # stream id -> WINDOW_UPDATE increments received
        self.connection_updates = 0

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, wait):
        """Reads and handles frames for up to `wait` seconds (returns early on EOF)."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return True
            if not data:
                return False
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers).get(":status")
                    self.responses.setdefault(event.stream_id, [None, b"", False])[0] = status
                elif isinstance(event, h2.events.DataReceived):
                    self.responses.setdefault(event.stream_id, [None, b"", False])[1] += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    self.responses.setdefault(event.stream_id, [None, b"", False])[2] = True
                elif isinstance(event, h2.events.StreamReset):
                    self.resets[event.stream_id] = event.error_code
                elif isinstance(event, h2.events.WindowUpdated):
                    if event.stream_id == 0:
                        self.connection_updates += event.delta
                    else:
                        self.stream_updates[event.stream_id] = self.stream_updates.get(event.stream_id, 0) + event.delta
            self.flush()

    def wait_for(self, sid, limit=TIMEOUT):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            r = self.responses.get(sid)
            if (r and r[2]) or sid in self.resets:
                break
            if not self.pump(0.05):
                break
        return self.responses.get(sid)

    def request(self, sid, method, path, end_stream=True):
        self.conn.send_headers(sid, [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path)],
                               end_stream=end_stream)
        self.flush()

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


def window():
    body = os.urandom(1 << 20)
    c = Client()
    c.pump(0.2)  # SETTINGS exchange
    c.request(1, "PUT", "/hold", end_stream=False)
    sent = 0
    # Send while the windows allow; stop once nothing opened the stream's
    # window for a second.
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.0 and sent < len(body):
        before = sent
        sent = c.send_allowed(1, body, sent)
        updates = c.stream_updates.get(1, 0)
        c.pump(0.1)
        if sent != before or c.stream_updates.get(1, 0) != updates:
            quiet_since = time.monotonic()
    check(f"the unread stream stalls after its window: {sent} bytes through (<= {WINDOW} + {FRAME})",
          sent <= WINDOW + FRAME, f"{sent} of {len(body)} went through before the handler read anything")
    check("no WINDOW_UPDATE for the unread stream", c.stream_updates.get(1, 0) == 0, str(c.stream_updates.get(1, 0)))
    check("the connection window reopened meanwhile", c.connection_updates >= sent - FRAME, str(c.connection_updates))
    # Another stream on the same connection is not starved.
    other = os.urandom(32768)
    c.request(3, "POST", "/buffered", end_stream=False)
    offset = 0
    deadline = time.monotonic() + TIMEOUT
    while offset < len(other) and time.monotonic() < deadline:
        offset = c.send_allowed(3, other, offset)
        if offset < len(other):
            c.pump(0.05)
    c.conn.end_stream(3)
    c.flush()
    r = c.wait_for(3)
    check("a buffered POST on the same connection is answered meanwhile",
          r is not None and r[0] == "200" and r[1] == f"{len(other)} {zlib.adler32(other)}".encode(), repr(r))
    check("the held stream is still unanswered", 1 not in c.responses and 1 not in c.resets)
    # Let the handler read: the rest goes through, piece by piece.
    c.request(5, "GET", "/release")
    r = c.wait_for(5)
    check("GET /release answered", r is not None and r[0] == "200", repr(r))
    deadline = time.monotonic() + 3 * TIMEOUT
    while sent < len(body) and time.monotonic() < deadline:
        sent = c.send_allowed(1, body, sent)
        if sent < len(body):
            c.pump(0.02)
    c.conn.end_stream(1)
    c.flush()
    r = c.wait_for(1, 3 * TIMEOUT)
    check("after release the whole upload goes through and the checksum matches",
          r is not None and r[0] == "200" and r[1] == f"{len(body)} {zlib.adler32(body)}".encode(),
          repr(r and (r[0], r[1][:80])))


def reset():
    c = Client()
    c.pump(0.2)
    c.request(1, "PUT", "/watch", end_stream=False)
    c.send_allowed(1, b"x" * 1000, 0)
    c.pump(0.3)
    c.conn.reset_stream(1, error_code=8)  # CANCEL
    c.flush()
    c.pump(0.3)
    c.request(3, "GET", "/release")
    r = c.wait_for(3)
    check("the connection serves a GET after the reset", r is not None and r[0] == "200", repr(r))
    check("no answer on the reset stream", 1 not in c.responses)


{"window": window, "reset": reset}[MODE]()
sys.exit(failures)
