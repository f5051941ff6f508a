"""Hostile clients against fastrt-h2 (issue 11, section 2): memory and
liveness. Usage: hostile_clients.py CHECK PORT [--pid PID]; exit status =
failures. Each CHECK needs the server started with the flags named in its
docstring (tests/http2/hostile_clients_test.sh does that) and the test app
(tests/http2/test_app.py). --pid: the server's process id, for its VmRSS
(the memory bounds are skipped without it, and under a sanitizer:
FASTRT_SANITIZED, where freed memory stays in quarantine). Needs Debian's
python3-h2; run with /usr/bin/python3. Every wait has a deadline."""
import argparse
import os
import socket
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from h2frames import (ACK, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR, GOAWAY, HEADERS, PING,
                      RST_STREAM, SETTINGS, WINDOW_UPDATE, body_of, connect, frame, goaway_code, read_frames,
                      request_block, statuses)

_args = argparse.ArgumentParser()
_args.add_argument("check")
_args.add_argument("port", type=int)
_args.add_argument("--pid", type=int)
ARGS = _args.parse_args()
PORT = ARGS.port
SANITIZED = bool(os.environ.get("FASTRT_SANITIZED"))
MIB = 1 << 20

failures = 0


def check(name, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    failures += 0 if ok else 1


def rss_kib():
    if ARGS.pid is None:
        return None
    with open(f"/proc/{ARGS.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


class PeakRss(threading.Thread):
    """Samples the server's VmRSS every 50 ms until stopped; .peak in KiB."""

    def __init__(self):
        super().__init__(daemon=True)
        self.before = rss_kib()
        self.peak = self.before
        self.done = threading.Event()
        self.start()

    def run(self):
        while not self.done.wait(0.05):
            try:
                now = rss_kib()
            except (OSError, StopIteration):
                return
            if now is not None:
                self.peak = max(self.peak, now)

    def stop(self):
        self.done.set()
        self.join(2)
        return None if self.before is None else self.peak - self.before


def memory_bound(what, growth_kib, limit_mib):
    if growth_kib is None or SANITIZED:
        print(f"skip {what}: peak VmRSS growth {growth_kib} KiB (no --pid, or a sanitizer build)")
        return
    check(f"{what}: peak VmRSS growth {growth_kib >> 10} MiB < {limit_mib} MiB", growth_kib < limit_mib << 10)


def fresh_get(path="/"):
    s = connect(PORT)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block(path)))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 1 and f & END_STREAM, 5)
    s.close()
    return body_of(frames, 1)


class Uploader(threading.Thread):
    """One hostile connection (python-h2 keeps the flow control honest):
    opens `streams` POST /echo streams and uploads `size` bytes on each as
    the server's windows allow, never opening its own receive windows
    (window=0: SETTINGS_INITIAL_WINDOW_SIZE 0, nothing can come back).
    end_stream=False: the bodies never end, and a PING goes out every
    `ping_every` seconds instead (PINGs must not count as progress).
    Records when the server closed the connection and what each stream got."""

    def __init__(self, streams=100, size=MIB, window=None, end_stream=True, ping_every=0.5, limit=20.0):
        super().__init__(daemon=True)
        self.streams, self.size, self.window = streams, size, window
        self.end_stream, self.ping_every, self.limit = end_stream, ping_every, limit
        self.closed_at = None      # monotonic time the server closed (EOF/reset), if it did
        self.goaway = None         # its GOAWAY error code, if any
        self.uploaded_at = None    # when the last body byte went out
        self.reset = {}            # stream -> RST_STREAM error code
        self.status = {}           # stream -> :status
        self.sent = 0
        self.error = None
        self.start()

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported, not raised: the main thread asserts
            self.error = repr(e)

    def _run(self):
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        conn = h2.connection.H2Connection(config)
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.initiate_connection()
        if self.window is not None:
            conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.window})
        ids = [1 + 2 * i for i in range(self.streams)]
        for sid in ids:
            conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", "test"),
                                    (":path", "/echo"), ("content-length", str(self.size))])
        s.sendall(conn.data_to_send())
        left = {sid: self.size for sid in ids}
        piece = b"u" * 16384
        start = time.monotonic()
        last_ping = start
        while time.monotonic() - start < self.limit and self.closed_at is None:
            progressed = False
            if self.goaway is not None:
                left.clear()  # the server said goodbye: only wait for it to close
            for sid in list(left):
                if sid in self.reset:
                    del left[sid]
                    continue
                try:
                    room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, left[sid])
                except h2.exceptions.StreamClosedError:
                    del left[sid]
                    continue
                if room <= 0:
                    continue
                left[sid] -= room
                last = left[sid] == 0
                conn.send_data(sid, piece[:room], end_stream=last and self.end_stream)
                self.sent += room
                progressed = True
                if last:
                    del left[sid]
            if not left and self.uploaded_at is None:
                self.uploaded_at = time.monotonic()
            now = time.monotonic()
            if not self.end_stream and self.goaway is None and now - last_ping >= self.ping_every:
                conn.ping(b"keepbusy")
                last_ping = now
            out = conn.data_to_send()
            if out:
                try:
                    s.sendall(out)
                except OSError:
                    self.closed_at = time.monotonic()
                    break
            s.settimeout(0.0 if progressed else 0.1)
            try:
                data = s.recv(1 << 16)
            except (BlockingIOError, socket.timeout):
                continue
            except OSError:
                data = b""
            if not data:
                self.closed_at = time.monotonic()
                break
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                self.error = f"client-side protocol error: {e!r}"
                break
            for e in events:
                if isinstance(e, h2.events.StreamReset):
                    self.reset[e.stream_id] = int(e.error_code)
                elif isinstance(e, h2.events.ResponseReceived):
                    self.status[e.stream_id] = dict(e.headers).get(":status")
                elif isinstance(e, h2.events.ConnectionTerminated):
                    self.goaway = int(e.error_code)
        s.close()


def zero_window(port):
    """--send-timeout 2 --max-buffered 16 MiB --max-buffered-per-connection 4 MiB:
    4 clients with SETTINGS_INITIAL_WINDOW_SIZE=0 each POST 100 x 1 MiB to
    /echo and never read: memory stays bounded, each connection is closed
    within the send timeout (+ slack) of its last upload."""
    rss = PeakRss()
    clients = [Uploader(window=0, limit=25) for _ in range(4)]
    for c in clients:
        c.join(30)
    growth = rss.stop()
    for i, c in enumerate(clients):
        ref = c.uploaded_at or c.closed_at
        took = None if c.closed_at is None or ref is None else c.closed_at - ref
        answered = sum(1 for v in c.status.values() if v == "200")
        refused = sum(1 for v in c.reset.values() if v == 7)
        check(f"zero window #{i}: closed within --send-timeout + 3 s of its last upload (after {took and round(took, 2)} s; "
              f"{c.sent >> 20} MiB uploaded, {answered} answers held, {refused} streams refused, "
              f"GOAWAY {c.goaway}, error {c.error})",
              c.error is None and took is not None and took <= 5.0)
    memory_bound("4 zero-window connections of 100 x 1 MiB echoes", growth, 64)
    check("a fresh client is served afterwards", fresh_get() == b"ok\n")


def answer_budget(port):
    """--max-buffered-per-connection 4 MiB: with its window shut, a client
    asking for two 3 MB answers gets the first (held) and a 503 for the
    second (its body would pass the budget)."""
    s = connect(port)
    s.sendall(frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + (0).to_bytes(4, "big")))  # INITIAL_WINDOW_SIZE 0
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/big?bytes=3000000")))
    time.sleep(0.3)  # the first answer is held before the second is asked for
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 3, request_block("/big?bytes=3000000")))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 3 and f & END_STREAM, 5)
    got = statuses(frames)
    check(f"answers over the connection's budget get 503 ({got})", got == {1: "200", 3: "503"})
    s.close()


def slow_post(port):
    """--body-timeout 2 --max-buffered 16 MiB --max-buffered-per-connection 4 MiB:
    4 clients each start 100 uploads of 1 MiB - 1 that never end, then only
    PING: every stream is refused or gets 408 + RST_STREAM within the body
    timeout (+ slack), and memory stays bounded."""
    rss = PeakRss()
    clients = [Uploader(size=MIB - 1, end_stream=False, limit=9) for _ in range(4)]
    for c in clients:
        c.join(15)
    growth = rss.stop()
    for i, c in enumerate(clients):
        timed_out = sum(1 for sid in range(1, 200, 2) if c.status.get(sid) == "408" and sid in c.reset)
        refused = sum(1 for v in c.reset.values() if v == 7)
        freed = len(c.reset)
        check(f"slow POST #{i}: every stream freed ({freed}/100: {timed_out} got 408 + RST_STREAM, {refused} refused; "
              f"{c.sent >> 20} MiB uploaded, error {c.error})",
              c.error is None and freed == 100 and timed_out > 0)
    memory_bound("4 slow-POST connections of 100 x (1 MiB - 1)", growth, 64)
    check("a fresh client is served afterwards", fresh_get() == b"ok\n")


def both(port):
    """The flags of zero_window and slow_post: 4 connections of each at once
    cost less than 64 MiB in total."""
    rss = PeakRss()
    clients = [Uploader(window=0, limit=12) for _ in range(4)]
    clients += [Uploader(size=MIB - 1, end_stream=False, limit=9) for _ in range(4)]
    for c in clients:
        c.join(15)
    growth = rss.stop()
    check(f"8 hostile connections ran ({[c.error for c in clients if c.error]})", all(c.error is None for c in clients))
    memory_bound("4 zero-window + 4 slow-POST connections at once", growth, 64)
    check("a fresh client is served afterwards", fresh_get() == b"ok\n")


def stalled_piece(port):
    """--handler-timeout 1: a generator that blocks after its first piece gets
    its stream reset after about a second."""
    s = connect(port)
    start = time.monotonic()
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/stall?s=6")))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 1 and (k == RST_STREAM or f & END_STREAM), 5)
    took = time.monotonic() - start
    resets = [int.from_bytes(p[:4], "big") for k, _, sid, p in frames if k == RST_STREAM and sid == 1]
    check(f"the first piece arrives ({body_of(frames, 1)!r})", body_of(frames, 1) == b"first piece\n")
    check(f"the stalled body gets RST_STREAM INTERNAL_ERROR ({resets}) after about a second ({took:.2f} s)",
          resets == [2] and 0.8 <= took <= 3.5)
    s.close()


def made_you_reset(port):
    """Defaults, --pinned 1: HEADERS then a WINDOW_UPDATE that overflows the
    stream's window, repeated (MadeYouReset, CVE-2025-8671): GOAWAY
    ENHANCE_YOUR_CALM after about 1000 streams, and no handler ran."""
    before = int(fresh_get("/hits"))
    s = connect(port)
    read_frames(s, lambda k, f, sid, p: k == SETTINGS and not f & ACK, 2)
    overflow = (2**31 - 1).to_bytes(4, "big")
    block = request_block("/hit")
    sid, goaway, closed, buf, resets = 1, None, False, b"", 0

    def drain(wait):
        """Reads what the server sent within `wait` s (counting RST_STREAMs);
        the GOAWAY code seen, if any."""
        nonlocal buf, closed, resets
        s.settimeout(wait)
        try:
            chunk = s.recv(1 << 16)
            if not chunk:
                closed = True
            buf += chunk
        except (BlockingIOError, socket.timeout):
            pass
        except OSError:
            closed = True
        code = None
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length = int.from_bytes(buf[:3], "big")
            if buf[3] == GOAWAY:
                code = goaway_code(buf[9:9 + length])
            resets += buf[3] == RST_STREAM
            buf = buf[9 + length:]
        return code

    # Batches of 50 streams, each batch once the previous one is reset: the
    # client stays within SETTINGS_MAX_CONCURRENT_STREAMS, as the attack does.
    start = time.monotonic()
    while sid < 2 * 20000 and goaway is None and not closed and time.monotonic() - start < 20:
        batch = b"".join(frame(HEADERS, END_HEADERS | END_STREAM, i, block) + frame(WINDOW_UPDATE, 0, i, overflow)
                         for i in range(sid, sid + 100, 2))
        sid += 100
        try:
            s.sendall(batch)
        except OSError:
            closed = True
            break
        batch_start = time.monotonic()
        while goaway is None and not closed and resets < (sid - 1) // 2 and time.monotonic() - batch_start < 2:
            goaway = drain(0.1)
    if goaway is None and not closed:
        goaway = drain(2)
    streams = (sid - 1) // 2
    check(f"provoked resets: GOAWAY ENHANCE_YOUR_CALM (got {goaway} after {streams} streams)",
          goaway == ENHANCE_YOUR_CALM and streams <= 3000)
    s.close()
    time.sleep(0.5)  # anything queued on the worker runs by then
    after = int(fresh_get("/hits"))
    check(f"no handler ran for a reset stream (hits {before} -> {after})", after == before)


def frames_until_eof(s, limit):
    """Every frame the server sends until it closes or `limit` s pass in all
    (its SETTINGS acknowledged); (frames, seconds until EOF or None)."""
    start, buf, frames = time.monotonic(), b"", []
    while True:
        left = limit - (time.monotonic() - start)
        if left <= 0:
            return frames, None
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return frames, None
        except OSError:
            chunk = b""
        if not chunk:
            return frames, time.monotonic() - start
        buf += chunk
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length = int.from_bytes(buf[:3], "big")
            kind, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            frames.append((kind, flags, sid, buf[9:9 + length]))
            buf = buf[9 + length:]
            if kind == SETTINGS and not flags & ACK:
                s.sendall(frame(SETTINGS, ACK, 0))


def stalled_body_shut_window(port):
    """--send-timeout 3 --body-timeout 1: clients with SETTINGS_INITIAL_WINDOW_SIZE=0
    whose upload stalls while the early answer's body cannot go out (found by
    the fuzzer: the connection stayed open for as long as the client kept it):
      408    the upload stalls: 408 (its body held by the window), then the
             connection is closed within --send-timeout (+ slack)
      413    a content-length over --max-body-size: 413 at once (its body
             held), then the upload stalls: the same
      reset  the 408 is held, then a WINDOW_UPDATE overflows stream 1's window:
             RST_STREAM FLOW_CONTROL_ERROR frees it, and the connection still
             serves a GET
    Run at once (each bounded by 8 s)."""
    zero_window = frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + (0).to_bytes(4, "big"))
    results = {}

    def stalled(name, block):
        s = connect(port)
        s.sendall(zero_window + frame(HEADERS, END_HEADERS, 1, block))
        results[name] = frames_until_eof(s, 8.0)
        s.close()

    def overflow():
        s = connect(port)
        s.sendall(zero_window + frame(HEADERS, END_HEADERS, 1, request_block("/echo", "POST")))
        frames, _ = read_frames(s, lambda k, f, sid, p: k == HEADERS and sid == 1, 4)
        held = statuses(frames).get(1)
        s.sendall(frame(WINDOW_UPDATE, 0, 1, (1).to_bytes(4, "big")) +
                  frame(WINDOW_UPDATE, 0, 1, (2**31 - 1).to_bytes(4, "big")) +
                  frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + (65535).to_bytes(4, "big")) +
                  frame(HEADERS, END_HEADERS | END_STREAM, 3, request_block("/")))
        more, _ = read_frames(s, lambda k, f, sid, p: sid == 3 and f & END_STREAM, 4)
        resets = [int.from_bytes(p[:4], "big") for k, _, sid, p in more if k == RST_STREAM and sid == 1]
        results["reset"] = (held, resets, statuses(frames + more).get(3), body_of(more, 3))
        s.close()

    clients = [threading.Thread(target=stalled, args=("408", request_block("/echo", "POST"))),
               threading.Thread(target=stalled, args=("413", request_block(
                   "/echo", "POST", [("content-length", str(10**12))]))),
               threading.Thread(target=overflow)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(12)
    for name in ("408", "413"):
        frames, took = results.get(name, ([], None))
        got = statuses(frames).get(1)
        goaways = [goaway_code(p) for k, _, _, p in frames if k == GOAWAY]
        check(f"stalled upload, {name} held by a shut window: the connection closes within 8 s "
              f"(status {got}, GOAWAY {goaways}, closed after {took and round(took, 2)} s)",
              got == name and took is not None and goaways[-1:] == [0])
    held, resets, status, body = results.get("reset", (None, [], None, b""))
    check(f"408 held, then stream 1's window overflows: RST_STREAM FLOW_CONTROL_ERROR, the connection serves on "
          f"(408 {held}, resets {resets}, GET {status} {body!r})",
          held == "408" and resets == [FLOW_CONTROL_ERROR] and status == "200" and body == b"ok\n")


def half_closed(port):
    """--pinned 1: a client that sends its requests and then shutdown(SHUT_WR)
    still gets every answer (Python ones included), then the connection closes."""
    s = connect(port)
    read_frames(s, lambda k, f, sid, p: k == SETTINGS and not f & ACK, 2)  # acknowledged
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/sleep?s=0.3")) +
              frame(HEADERS, END_HEADERS | END_STREAM, 3, request_block("/")))
    s.shutdown(socket.SHUT_WR)
    start = time.monotonic()
    frames, closed = read_frames(s, lambda k, f, sid, p: False, 5)
    took = time.monotonic() - start
    got = statuses(frames)
    check(f"half-closed client: both answers arrive ({got}, {body_of(frames, 1)!r}, {body_of(frames, 3)!r})",
          body_of(frames, 1) == b"slept\n" and body_of(frames, 3) == b"ok\n")
    check(f"... then the connection closes ({took:.2f} s)", closed and took < 4)
    s.close()


globals()[ARGS.check](PORT)
raise SystemExit(failures)
