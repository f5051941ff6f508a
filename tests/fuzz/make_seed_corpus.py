"""Writes the seed corpus of h2_connection_fuzzer: what the raw-frame tests
(tests/http2/raw_frames.py) send, built with the same helpers
(tests/http2/h2frames.py; needs Debian's python3-hpack, run with
/usr/bin/python3). Each seed is the fuzzer's input layout (see
h2_connection_fuzzer.cpp): a control byte, split offsets, then the client's
bytes. Every exchange is written whole and split into four chunks at
awkward places; some also with the graceful-shutdown, over-capacity and
keep-open bits.

Usage: make_seed_corpus.py OUTDIR   (its old seeds are replaced)"""
import base64
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http2"))
import hpack  # noqa: E402
from h2frames import (  # noqa: E402
    ACK, CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, NO_ERROR, PING, PREFACE, PRIORITY,
    PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE, frame)

PADDED, PRIORITY_FLAG = 0x8, 0x20
SETTINGS_HEADER_TABLE_SIZE, SETTINGS_ENABLE_PUSH, SETTINGS_MAX_CONCURRENT_STREAMS = 1, 2, 3
SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE, SETTINGS_MAX_HEADER_LIST_SIZE = 4, 5, 6
SHUTDOWN_BIT, OVER_CAPACITY_BIT, KEEP_OPEN_BIT = 4, 8, 16


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def rst_stream(stream, code):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


class Client:
    """One connection's frames; one HPACK encoder, as a real client has."""

    def __init__(self, *setting_pairs):
        self.enc = hpack.Encoder()
        self.out = PREFACE + settings(*setting_pairs) + frame(SETTINGS, ACK, 0)

    def block(self, path="/", method="GET", extra=(), authority="fuzz"):
        fields = [(":method", method), (":scheme", "http"), (":authority", authority)]
        if path is not None:
            fields.append((":path", path))
        return self.enc.encode(fields + list(extra))

    def add(self, *frames):
        for f in frames:
            self.out += f
        return self

    def get(self, stream, path="/", method="GET", extra=()):
        return self.add(frame(HEADERS, END_STREAM | END_HEADERS, stream, self.block(path, method, extra)))

    def post(self, stream, path, body, extra=()):
        block = self.block(path, "POST", [("content-length", str(len(body))), *extra])
        return self.add(frame(HEADERS, END_HEADERS, stream, block), frame(DATA, END_STREAM, stream, body))


def exchanges():
    """(name, client bytes) of every seed exchange."""
    yield "get", Client().get(1, "/").out
    yield "get_query_fields", Client().get(1, "/hello?x=1&header=1", extra=[("accept", "*/*"), ("cookie", "a=1"),
                                                                            ("cookie", "b=2")]).out
    yield "post_data", Client().post(1, "/echo", b"hello world").out
    c = Client()
    block = c.block("/upload", "POST", [("content-length", "10")])
    yield "post_two_data_frames", c.add(frame(HEADERS, END_HEADERS, 1, block), frame(DATA, 0, 1, b"01234"),
                                        frame(DATA, END_STREAM, 1, b"56789")).out
    c = Client()
    block = c.block("/continued", extra=[("x-long", "v" * 300)])
    yield "continuation", c.add(frame(HEADERS, END_STREAM, 1, block[:100]), frame(CONTINUATION, 0, 1, block[100:200]),
                                frame(CONTINUATION, END_HEADERS, 1, block[200:])).out
    yield "ping", Client().add(frame(PING, 0, 0, b"12345678"), frame(PING, ACK, 0, b"shutdown")).get(1).out
    yield "settings", Client((SETTINGS_HEADER_TABLE_SIZE, 0), (SETTINGS_ENABLE_PUSH, 0),
                             (SETTINGS_MAX_CONCURRENT_STREAMS, 10), (SETTINGS_INITIAL_WINDOW_SIZE, 1000),
                             (SETTINGS_MAX_FRAME_SIZE, 32768), (SETTINGS_MAX_HEADER_LIST_SIZE, 8192)).get(1).out
    c = Client()
    yield "rst_stream", c.add(frame(HEADERS, END_HEADERS, 1, c.block("/slow", "POST")), rst_stream(1, CANCEL)) \
        .get(3, "/slow").add(rst_stream(3, CANCEL)).get(5).out
    yield "window_update", Client((SETTINGS_INITIAL_WINDOW_SIZE, 0)).get(1, "/stream?pieces=3&size=20000") \
        .add(window_update(0, 100000), window_update(1, 30000), window_update(1, 2**31 - 1)).out
    # Uploads that stall behind a shut window: --body-timeout's 408, and an
    # early 413 whose upload then stalls, both held by the window.
    c = Client((SETTINGS_INITIAL_WINDOW_SIZE, 0))
    yield "stalled_upload_zero_window", c.add(
        frame(HEADERS, END_HEADERS, 1, c.block("/echo", "POST")), frame(DATA, 0, 1, b"part"),
        frame(HEADERS, END_HEADERS, 3, c.block("/echo", "POST", [("content-length", "99999")]))).out
    c = Client()
    prio = struct.pack(">IB", 0, 15)
    yield "priority", c.add(frame(PRIORITY, 0, 3, prio), frame(HEADERS, END_STREAM | END_HEADERS | PRIORITY_FLAG, 1,
                                                               struct.pack(">IB", 3, 200) + c.block("/p"))).out
    yield "goaway", Client().get(1).add(frame(GOAWAY, 0, 0, struct.pack(">II", 1, NO_ERROR))).out
    yield "many_streams", Client().get(1, "/stream?pieces=2&size=100").get(3, "/slow").get(5, "/x?status=204") \
        .get(7, "/", "HEAD").get(9, "/stream?pieces=3&fail=1").get(11, "/y?status=404&header=1").out
    c = Client()
    yield "trailers", c.add(frame(HEADERS, END_HEADERS, 1, c.block("/t", "POST")), frame(DATA, 0, 1, b"abc"),
                            frame(HEADERS, END_STREAM | END_HEADERS, 1, c.enc.encode([("x-trailer", "1")]))).out
    yield "body_too_large_announced", Client().post(1, "/big", b"x" * 100, [("content-length", "5000")]).out
    c = Client()
    block = c.block("/big", "POST")
    yield "body_too_large_sent", c.add(frame(HEADERS, END_HEADERS, 1, block), frame(DATA, 0, 1, b"y" * 1500),
                                       frame(DATA, END_STREAM, 1, b"z" * 1500)).get(3).out
    yield "headers_too_large", Client().get(1, "/h", extra=[("x-big", "b" * 5000)]).get(3).out
    c = Client()
    yield "padded", c.add(frame(HEADERS, END_HEADERS | PADDED, 1, b"\x04" + c.block("/pad", "POST") + b"\0" * 4),
                          frame(DATA, END_STREAM | PADDED, 1, b"\x02ab\0\0")).out
    yield "reused_stream_id", Client().get(3).get(1).out
    yield "data_on_closed_stream", Client().get(1).add(frame(DATA, END_STREAM, 1, b"late")).out
    yield "push_promise_from_client", Client().add(frame(PUSH_PROMISE, END_HEADERS, 1, b"\0\0\0\2")).out
    yield "unknown_frame_type", Client().add(frame(0x42, 0, 0, b"whatever")).get(1).out
    yield "connect_no_path", Client().get(1, None, "CONNECT").out
    yield "options_star", Client().get(1, "*", "OPTIONS").out
    yield "bad_pseudo_header", Client().get(1, "/", extra=[(":bogus", "1"), ("Upper", "x")]).out
    yield "settings_ack_only", PREFACE + frame(SETTINGS, 0, 0) + frame(SETTINGS, ACK, 0)
    yield "preface_only", PREFACE
    yield "no_settings_ack", PREFACE + frame(SETTINGS, 0, 0) + \
        frame(HEADERS, END_STREAM | END_HEADERS, 1, hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"),
                                                                            (":path", "/")]))
    # HTTP/1.1: an h2c upgrade (with a body, then the client preface and a
    # second request), plain requests (served by the HTTP/1.1 codec), malformed heads.
    up_settings = base64.urlsafe_b64encode(struct.pack(">HI", SETTINGS_MAX_CONCURRENT_STREAMS, 10)).rstrip(b"=")
    upgrade = (b"POST /up?x=1 HTTP/1.1\r\nHost: fuzz\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               b"HTTP2-Settings: " + up_settings + b"\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello")
    yield "h2c_upgrade", upgrade + Client().get(3, "/after-upgrade").out
    yield "h2c_upgrade_get", (b"GET / HTTP/1.1\r\nHost: fuzz\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                              b"Upgrade: h2c\r\nHTTP2-Settings: \r\n\r\n") + PREFACE + frame(SETTINGS, 0, 0)
    yield "h2c_upgrade_head", (b"HEAD /h HTTP/1.1\r\nHost: fuzz\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                               b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
    yield "h2c_bad_settings", (b"GET / HTTP/1.1\r\nHost: fuzz\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                               b"Upgrade: h2c\r\nHTTP2-Settings: AAM\r\n\r\n")
    yield "h2c_body_too_large", (b"POST / HTTP/1.1\r\nHost: fuzz\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                 b"Upgrade: h2c\r\nHTTP2-Settings: \r\nContent-Length: 99999\r\n\r\n")
    yield "http1_plain", b"GET / HTTP/1.1\r\nHost: fuzz\r\n\r\n"
    yield "http1_chunked", b"POST / HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    yield "http1_incomplete", b"GET /slowloris HTTP/1.1\r\nHost: fu"
    yield "garbage_preface", b"INVALID CONNECTION PREFACE\r\n\r\n"
    yield "bad_h2_preface", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0)
    yield "empty", b""


def seed(control, cuts, payload):
    assert len(cuts) == control & 3
    return bytes([control]) + b"".join(struct.pack("<H", c) for c in cuts) + payload


def awkward_cuts(payload):
    """Three offsets: inside the preface, inside the first frame header, mid-way."""
    n = len(payload)
    return sorted([min(n, 3), min(n, len(PREFACE) + 4), n // 2])


def write_corpus(out, seeds, script):
    """Replaces the seeds in directory `out` with `seeds` ({file name: bytes})."""
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if not name.startswith("."):
            os.remove(os.path.join(out, name))
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{script}: {len(seeds)} seeds in {out}")


def main():
    seeds = {}
    for name, payload in exchanges():
        variants = {"whole": seed(0, [], payload), "split": seed(3, awkward_cuts(payload), payload)}
        if name in ("get", "many_streams", "h2c_upgrade", "http1_incomplete", "rst_stream", "window_update"):
            variants["shutdown"] = seed(SHUTDOWN_BIT, [], payload)
        if name in ("get", "h2c_upgrade"):
            variants["over_capacity"] = seed(OVER_CAPACITY_BIT, [], payload)
        if name in ("get", "many_streams", "rst_stream", "window_update", "no_settings_ack", "preface_only",
                    "http1_incomplete", "continuation", "h2c_upgrade", "settings_ack_only",
                    "stalled_upload_zero_window"):
            variants["keep_open"] = seed(KEEP_OPEN_BIT, [], payload)
        if name in ("get", "many_streams", "h2c_upgrade", "preface_only"):
            variants["keep_open_shutdown"] = seed(KEEP_OPEN_BIT | SHUTDOWN_BIT, [], payload)
        for variant, data in variants.items():
            seeds[f"{name}-{variant}"] = data
    write_corpus(sys.argv[1], seeds, "make_seed_corpus.py")


if __name__ == "__main__":
    main()
