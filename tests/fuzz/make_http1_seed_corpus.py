"""Writes the seed corpus of http1_parser_fuzzer: well-formed pipelines
(GET, Content-Length and chunked bodies, HTTP/1.0 keep-alive, 100-continue,
trailers, absolute form), the request-smuggling and malformed cases of
tests/http2_http1_parser_test.cpp, and inputs at the small limits. Each seed
is the fuzzer's input layout (see http1_parser_fuzzer.cpp): the read size,
the limits byte, then the client's bytes.

Usage: make_http1_seed_corpus.py OUTDIR   (its old seeds are replaced)"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_seed_corpus import write_corpus  # noqa: E402

GET = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
POST = b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3;name=\"v\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n")


def post(fields, body=b""):
    return b"POST / HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n" + body


def chunked(body):
    return post(b"Transfer-Encoding: chunked\r\n", body)


SEEDS = {
    "pipeline": GET + POST + b"\r\n" + CHUNKED + b"GET http://example.org/d?y HTTP/1.1\r\nHost: i\r\n"
                b"Connection: close\r\n\r\n",
    "http10_keep_alive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    "continue": b"POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nabcd" + GET,
    "partial_head": GET + b"GET /partial HTTP/1.1\r\nHo",
    "partial_body": POST[:-2],
    "te_and_cl": post(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n") + GET,
    "two_lengths": post(b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"),
    "chunked_not_final": post(b"Transfer-Encoding: chunked, gzip\r\n"),
    "gzip_chunked": post(b"Transfer-Encoding: gzip, chunked\r\n"),
    "te_http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
    "bare_cr": b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n",
    "nul": b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n",
    "chunk_size_0x": chunked(b"0x5\r\nhello\r\n0\r\n\r\n"),
    "chunk_size_overflow": chunked(b"10000000000000001\r\n"),
    "chunk_extension_long": chunked(b"3;x=" + b"a" * 200 + b"\r\nabc\r\n0\r\n\r\n"),
    "chunk_data_long": chunked(b"3\r\nhello\r\n0\r\n\r\n"),
    "trailer_fold": chunked(b"0\r\nX: a\r\n b\r\n\r\n"),
    "long_line": b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    "long_head": b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 300 + b"\r\n\r\n",
    "large_body": post(b"Content-Length: 65\r\n", b"x" * 65),
    "large_chunks": chunked(b"20\r\n" + b"y" * 32 + b"\r\n21\r\n" + b"z" * 33 + b"\r\n0\r\n\r\n"),
    "h2c_upgrade": b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                   b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    "garbage": b"\x16\x03\x01\x00\xa5\x01\x00",
}


def main():
    seeds = {}
    for name, payload in SEEDS.items():
        for variant, head in {"whole": bytes([0, 0]), "small_limits": bytes([3, 1])}.items():
            seeds[f"{name}-{variant}"] = head + payload
    write_corpus(sys.argv[1], seeds, "make_http1_seed_corpus.py")


if __name__ == "__main__":
    main()
