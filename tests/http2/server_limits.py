"""Raw-frame checks of fastrt-h2's timeouts, connection cap and stream
cancellation. Usage: server_limits.py CHECK PORT; exit status = failures.
Each CHECK needs the server started with the flags named in its docstring
(tests/http2/server_limits_test.sh does that)."""
import sys
import time

from h2frames import (ACK, CANCEL, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, GOAWAY, HEADERS, NO_ERROR,
                      RST_STREAM, SETTINGS, SETTINGS_TIMEOUT, WINDOW_UPDATE, body_of, connect, frame,
                      goaway_code, read_frames, request_block)
import socket

failures = 0


def check(name, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + name)
    failures += 0 if ok else 1


def wait_goaway(s, limit):
    start = time.monotonic()
    frames, closed = read_frames(s, lambda k, f, sid, p: False, limit)
    goaways = [goaway_code(p) for k, _, _, p in frames if k == GOAWAY]
    return goaways, closed, time.monotonic() - start


def get(port, path):
    s = connect(port)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block(path)))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 1 and f & END_STREAM)
    s.close()
    return body_of(frames, 1)


def idle(port):
    """--idle-timeout 1: a connection with nothing to do gets GOAWAY(NO_ERROR) and is closed."""
    s = connect(port)
    goaways, closed, took = wait_goaway(s, 4)
    check(f"idle connection: GOAWAY NO_ERROR (got {goaways})", goaways == [NO_ERROR])
    check(f"idle connection closed after about a second ({took:.2f}s)", closed and 0.8 <= took <= 3.5)
    # A connection in use is not idle: a request every half second keeps it.
    s = connect(port)
    served = 0
    for i in range(4):
        sid = 1 + 2 * i
        s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, sid, request_block("/")))
        frames, _ = read_frames(s, lambda k, f, st, p, sid=sid: st == sid and f & END_STREAM, 3)
        served += body_of(frames, sid) == b"ok\n"
        time.sleep(0.5)
    check(f"a connection used every 0.5 s stays open ({served}/4 answered)", served == 4)
    # A request whose body never comes: the client went quiet, so it is idle.
    s = connect(port)
    s.sendall(frame(HEADERS, END_HEADERS, 1, request_block("/", method="POST")))
    goaways, closed, took = wait_goaway(s, 5)
    check(f"a request body that never comes: GOAWAY NO_ERROR (got {goaways})", goaways == [NO_ERROR])
    check(f"... and closed after about a second ({took:.2f}s)", closed and took <= 3.5)


def stall(port):
    """--send-timeout 1: a client that stops reading a large response is cut (slow read)."""
    s = connect(port)
    big_window = (2**31 - 1).to_bytes(4, "big")
    s.sendall(frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + big_window) +     # INITIAL_WINDOW_SIZE
              frame(WINDOW_UPDATE, 0, 0, (2**31 - 1 - 65535).to_bytes(4, "big")) +
              frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/cpp/stream?bytes=1000000000")))
    time.sleep(4)  # not reading: the server's sends stall
    s.settimeout(5)
    received, closed, start = 0, False, time.monotonic()
    try:
        while time.monotonic() - start < 5:
            data = s.recv(1 << 20)
            if not data:
                closed = True
                break
            received += len(data)
    except (socket.timeout, ConnectionResetError):
        closed = isinstance(sys.exc_info()[1], ConnectionResetError)
    check(f"a client that stops reading is cut (closed after {received >> 20} MiB of 954)",
          closed and received < 500_000_000)


def header(port):
    """--header-timeout 1: a started header block must complete in time; no preface: closed."""
    s = connect(port)
    read_frames(s, lambda k, f, sid, p: k == SETTINGS and not f & ACK, 2)  # acknowledged by read_frames
    block = request_block("/")
    s.sendall(frame(HEADERS, 0, 1, block[:3]))  # no END_HEADERS: CONTINUATION never comes
    goaways, closed, took = wait_goaway(s, 4)
    check(f"unfinished header block: GOAWAY ENHANCE_YOUR_CALM (got {goaways})", goaways == [ENHANCE_YOUR_CALM])
    check(f"unfinished header block: closed within ~1 s ({took:.2f}s)", closed and took <= 3.5)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(b"PRI * HTTP/2.0\r\n")  # half a preface, then nothing
    start = time.monotonic()
    s.settimeout(4)
    try:
        data = s.recv(4096)
        while data:
            data = s.recv(4096)
        closed = True
    except (socket.timeout, ConnectionResetError):
        closed = False
    took = time.monotonic() - start
    check(f"half a client preface: closed within ~1 s ({took:.2f}s)", closed and took <= 3.5)
    # A header block nghttp2 rejects (a connection-specific field) ends with
    # RST_STREAM, and its timer with it: no GOAWAY later, the connection serves on.
    s = connect(port)
    read_frames(s, lambda k, f, sid, p: k == SETTINGS and not f & ACK, 2)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/", extra=[("connection", "close")])))
    frames, _ = read_frames(s, lambda k, f, sid, p: k == RST_STREAM and sid == 1, 2)
    check("rejected header block: RST_STREAM on the stream", any(k == RST_STREAM for k, _, _, _ in frames))
    frames, _ = read_frames(s, lambda k, f, sid, p: k == GOAWAY, 2.5)
    check("... and no header timeout afterwards", not any(k == GOAWAY for k, _, _, _ in frames))
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 3, request_block("/")))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 3 and f & END_STREAM, 3)
    check("... and the connection still serves", body_of(frames, 3) == b"ok\n")


def settings(port):
    """--settings-timeout 1: SETTINGS never acknowledged → GOAWAY SETTINGS_TIMEOUT."""
    s = connect(port, ack_settings=False)
    goaways, closed, took = wait_goaway(s, 4)
    check(f"unacknowledged SETTINGS: GOAWAY SETTINGS_TIMEOUT (got {goaways})", goaways == [SETTINGS_TIMEOUT])
    check(f"unacknowledged SETTINGS: closed ({took:.2f}s)", closed)


def cap(port):
    """--max-connections 2: a third connection gets GOAWAY(ENHANCE_YOUR_CALM, last stream 0)."""
    first, second = connect(port), connect(port)
    for s in (first, second):
        read_frames(s, lambda k, f, sid, p: k == SETTINGS and f & ACK, 2)
    third = connect(port)
    frames, closed = read_frames(third, lambda k, f, sid, p: k == GOAWAY, 3)
    goaways = [(int.from_bytes(p[:4], "big"), goaway_code(p)) for k, _, _, p in frames if k == GOAWAY]
    check(f"third connection over the cap: GOAWAY(0, ENHANCE_YOUR_CALM) (got {goaways})",
          goaways == [(0, ENHANCE_YOUR_CALM)])
    first.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/")))
    frames, _ = read_frames(first, lambda k, f, sid, p: sid == 1 and f & END_STREAM)
    check("connections under the cap are still served", body_of(frames, 1) == b"ok\n")
    for s in (first, second, third):
        s.close()
    time.sleep(0.3)
    check("after they close, a new connection is served", get(port, "/") == b"ok\n")


def reset(port):
    """--pinned 1: a stream reset while its Python work is queued never runs it."""
    before = int(get(port, "/hits"))
    s = connect(port)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/sleep?s=0.5")))  # occupies the worker
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 3, request_block("/hit")))          # queued behind it
    time.sleep(0.1)
    s.sendall(frame(RST_STREAM, 0, 3, CANCEL.to_bytes(4, "big")))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 1 and f & END_STREAM, 5)
    check("the sleeping request is answered", body_of(frames, 1) == b"slept\n")
    check("no answer on the reset stream", body_of(frames, 3) == b"")
    s.close()
    after = int(get(port, "/hits"))
    check(f"the reset stream's queued work never ran (hits {before} -> {after})", after == before)
    check("a fresh request after the reset runs", get(port, "/hit") == f"{before + 1}\n".encode())


PORT = int(sys.argv[2])
globals()[sys.argv[1]](PORT)
sys.exit(failures)
