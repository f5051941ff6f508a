"""One HTTP/2 connection that goes idle again and again, long enough each
time for fastrt-h2's watchdog to give its output buffer's pages back
(session_memory.hpp), and must keep working: 40 requests with large header
fields that HPACK indexes (the dynamic tables of both sides in use, checked
by decoding every response in order), responses larger than the 16 KiB
frame buffer, several streams at once.

usage: idle_memory_client.py PORT PAUSE_SECONDS    (exit 0: every check passed)
"""
import sys
import time

import hpack

from h2frames import DATA, END_HEADERS, END_STREAM, HEADERS, WINDOW_UPDATE, connect, frame, read_frames

port, pause = int(sys.argv[1]), float(sys.argv[2])
conn = connect(port)
encoder, decoder = hpack.Encoder(), hpack.Decoder()  # one of each for the whole connection
failures, stream = [], 1
big = "v" * 3000  # indexed: later requests send it as one byte


def exchange(paths):
    """Sends a request per path at once, reads every response in full."""
    global stream
    ids = {}
    for path in paths:
        fields = [(":method", "GET"), (":scheme", "http"), (":authority", "test"), (":path", path),
                  ("x-large", big), ("x-changing", f"{stream}-" + "c" * 2000)]
        conn.sendall(frame(HEADERS, END_STREAM | END_HEADERS, stream, encoder.encode(fields)))
        ids[stream] = path
        stream += 2
    done = set()
    frames, closed = read_frames(conn, lambda k, f, s, p: k in (HEADERS, DATA) and f & END_STREAM and
                                 (done.add(s) or done >= ids.keys()), limit=10)
    statuses, bodies = {}, {}
    for kind, flags, sid, payload in frames:
        if kind == HEADERS:
            statuses[sid] = dict(decoder.decode(payload)).get(":status")  # in order: the decoder's table follows
        elif kind == DATA and payload:
            bodies[sid] = bodies.get(sid, 0) + len(payload)
            conn.sendall(frame(WINDOW_UPDATE, 0, 0, len(payload).to_bytes(4, "big")) +
                         frame(WINDOW_UPDATE, 0, sid, len(payload).to_bytes(4, "big")))
    for sid, path in ids.items():
        want = 40000 if path.startswith("/cpp/stream") else len(b"Hello from fastrt-h2 (C++)\n")
        if closed or statuses.get(sid) != "200" or bodies.get(sid) != want:
            failures.append(f"stream {sid} {path}: status {statuses.get(sid)}, {bodies.get(sid)} bytes, closed {closed}")


for i in range(20):
    exchange(["/cpp/hello"] if i % 2 else ["/cpp/stream?bytes=40000"])
    exchange(["/cpp/hello", "/cpp/stream?bytes=40000"])
    if i % 4 == 0:
        time.sleep(pause)  # idle: the watchdog looks in and drops the output buffer's pages
print("\n".join(failures[:5]) or f"40 exchanges (60 streams) answered in full, {stream // 2} streams")
sys.exit(1 if failures else 0)
