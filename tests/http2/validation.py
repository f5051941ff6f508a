"""Raw-socket checks of what fastrt-h2 accepts and what it sends (issue 11,
items 3a-3d and 2c): the HTTP/1.1 upgrade head, the first bytes of a
connection, response headers made by the app, and the access log. After each
hostile case a healthy client must be served. Needs Debian's python3-hpack;
run with /usr/bin/python3 against a fastrt-h2 started by validation_test.sh
(--pinned 1 --app validation_app:app --access-log FILE).

Usage: validation.py PORT ACCESS_LOG SERVER_STDERR
Exit status: the number of failed checks."""
import base64
import socket
import struct
import sys
import time

import hpack

from h2frames import (END_HEADERS, END_STREAM, HEADERS, INTERNAL_ERROR, PREFACE, RST_STREAM, SETTINGS, body_of,
                      connect, frame, read_frames, request_block)

PORT = int(sys.argv[1])
ACCESS_LOG = sys.argv[2]
SERVER_ERR = sys.argv[3]
failures = 0


def check(name, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + name)
    failures += 0 if ok else 1


def exchange(*pieces, limit=3.0):
    """Sends the pieces (a pause between them), then reads until the server
    closes or `limit` seconds pass; returns (bytes received, closed)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=limit)
    try:
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(0.1)
            s.sendall(piece)
    except OSError:
        pass
    buf, closed, deadline = b"", False, time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    s.close()
    return buf, closed


def first_line(answer):
    return answer.split(b"\r\n")[0]


def fields_of(frames, stream, decoder=None):
    """The decoded header fields of `stream`'s first HEADERS. `decoder`: the
    connection's (HPACK state spans the connection: every HEADERS goes
    through it, in order)."""
    decoder, out = decoder or hpack.Decoder(), None
    for k, _, sid, p in frames:
        if k == HEADERS:
            decoded = decoder.decode(p)
            if sid == stream and out is None:
                out = dict(decoded)
    return out or {}


def get(path, method="GET", settings=b"", s=None, stream=1, limit=3.0, decoder=None):
    """One request on a prior-knowledge connection (a new one unless `s`,
    then with its `decoder`); returns (fields, body, frames, closed)."""
    own = s is None
    if own:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=limit)
        s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, stream, request_block(path, method=method)))
    frames, closed = read_frames(
        s, lambda k, f, sid, p: sid == stream and ((k != RST_STREAM and f & END_STREAM) or k == RST_STREAM), limit)
    if own:
        s.close()
    return fields_of(frames, stream, decoder), body_of(frames, stream), frames, closed


def healthy(after):
    fields, body, _, _ = get("/")
    check(f"  a healthy client is served after {after}", fields.get(":status") == "200" and body == b"ok\n")


def settings_b64(*pairs):
    payload = b"".join(struct.pack(">HI", k, v) for k, v in pairs)
    return base64.urlsafe_b64encode(payload).rstrip(b"=")


GOOD_SETTINGS = settings_b64((3, 100), (4, 65535))


def upgrade_head(target, extra=b"", settings=GOOD_SETTINGS, method=b"GET", host=b"Host: test\r\n", version=b"HTTP/1.1"):
    return (method + b" " + target + b" " + version + b"\r\n" + host +
            b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n" +
            extra + b"\r\n")


def upgraded_request(head, body=b""):
    """Sends an upgrade head (and body); returns (status line, response fields, response body)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
    s.sendall(head + body)
    line = b""
    while not line.endswith(b"\r\n\r\n"):
        c = s.recv(1)  # byte by byte: what follows the 101 is HTTP/2
        if not c:
            break
        line += c
    if not line.startswith(b"HTTP/1.1 101"):
        s.close()
        return line.split(b"\r\n")[0], {}, b""
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    frames, _ = read_frames(s, lambda k, f, sid, p: sid == 1 and f & END_STREAM, 3)
    s.close()
    return b"HTTP/1.1 101", fields_of(frames, 1), body_of(frames, 1)


# --- 3a: the h2c upgrade head -------------------------------------------------------
BAD_HEADS = {
    "lf-in-value": upgrade_head(b"/seen?id=lf-in-value", b"X-A: a\nb\r\n"),
    "cr-in-value": upgrade_head(b"/seen?id=cr-in-value", b"X-A: a\rb\r\n"),
    "nul-in-value": upgrade_head(b"/seen?id=nul-in-value", b"X-A: a\0b\r\n"),
    "ctl-in-value": upgrade_head(b"/seen?id=ctl-in-value", b"X-A: a\x01b\r\n"),
    "del-in-value": upgrade_head(b"/seen?id=del-in-value", b"X-A: a\x7fb\r\n"),
    "space-in-name": upgrade_head(b"/seen?id=space-in-name", b"X A: b\r\n"),
    "space-before-colon": upgrade_head(b"/seen?id=space-before-colon", b"X-A : b\r\n"),
    "no-colon": upgrade_head(b"/seen?id=no-colon", b"X-A b\r\n"),
    "obs-fold": upgrade_head(b"/seen?id=obs-fold", b"X-A: a\r\n b\r\n"),
    "nul-in-method": upgrade_head(b"/seen?id=nul-in-method", method=b"G\0ET"),
    "ctl-in-target": upgrade_head(b"/seen?id=ctl-in-target\x01"),
    "del-in-target": upgrade_head(b"/seen?id=del-in-target\x7f"),
    "bare-lf-lines": upgrade_head(b"/seen?id=bare-lf-lines").replace(b"\r\n", b"\n"),
    "no-host": upgrade_head(b"/seen?id=no-host", host=b""),
    "two-hosts": upgrade_head(b"/seen?id=two-hosts", b"Host: other\r\n"),
    "two-lengths": upgrade_head(b"/seen?id=two-lengths", b"Content-Length: 3\r\nContent-Length: 4\r\n") + b"abcd",
    "length-list": upgrade_head(b"/seen?id=length-list", b"Content-Length: 3, 3\r\n") + b"abc",
    "length-nan": upgrade_head(b"/seen?id=length-nan", b"Content-Length: 3x\r\n") + b"abc",
    "transfer-encoding": upgrade_head(b"/seen?id=transfer-encoding", b"Transfer-Encoding: chunked\r\n") +
    b"3\r\nabc\r\n0\r\n\r\n",
    "settings-not-base64url": upgrade_head(b"/seen?id=settings-not-base64url", settings=b"!!!!"),
    "settings-5-bytes": upgrade_head(b"/seen?id=settings-5-bytes",
                                     settings=base64.urlsafe_b64encode(b"\0\3\0\0\0").rstrip(b"=")),
    "settings-enable-push-2": upgrade_head(b"/seen?id=settings-enable-push-2", settings=settings_b64((2, 2))),
    "settings-window-2^31": upgrade_head(b"/seen?id=settings-window-2^31", settings=settings_b64((4, 2**31))),
    "settings-frame-size-small": upgrade_head(b"/seen?id=settings-frame-size-small", settings=settings_b64((5, 100))),
    "two-settings": upgrade_head(b"/seen?id=two-settings", b"HTTP2-Settings: " + GOOD_SETTINGS + b"\r\n"),
}
for name, head in BAD_HEADS.items():
    answer, closed = exchange(head)
    check(f"upgrade head with {name}: 400 and close (got {first_line(answer)!r}, closed={closed})",
          answer.startswith(b"HTTP/1.1 400 ") and closed)
    healthy(name)

# An LF in the target cuts the request line short: no HTTP/1.x request line,
# so the connection is closed unanswered — and the target reaches neither the
# app nor the access log.
answer, closed = exchange(upgrade_head(b"/seen?id=lf-in-target\nGET /forged"))
check(f"upgrade head with an LF in the target: not served, closed (got {answer[:20]!r}, closed={closed})",
      not answer.startswith(b"HTTP/1.1 101") and b"HTTP/2" not in answer and closed)
healthy("an LF in the target")

answer, closed = exchange(upgrade_head(b"/seen?id=too-large", b"X-Big: " + b"a" * 9000 + b"\r\n"))
check(f"upgrade head over 8 KiB: 431 (got {first_line(answer)!r})",
      answer.startswith(b"HTTP/1.1 431 ") and closed)
healthy("an oversized head")

# Well-formed upgrades are still served; the same Content-Length twice is
# accepted (RFC 9110 §8.6).
status, fields, body = upgraded_request(upgrade_head(b"/seen?id=good-upgrade"))
check(f"a well-formed upgrade: 101 and 200 on stream 1 (got {status!r}, {fields.get(':status')})",
      status == b"HTTP/1.1 101" and fields.get(":status") == "200" and body == b"ok\n")
status, fields, body = upgraded_request(
    upgrade_head(b"/seen?id=same-length-twice", b"Content-Length: 3\r\nContent-Length: 3\r\n", method=b"POST"), b"abc")
check(f"an upgrade with the same Content-Length twice is served (got {status!r}, {fields.get(':status')})",
      status == b"HTTP/1.1 101" and fields.get(":status") == "200")

fields, body, _, _ = get("/seen-list")
recorded = body.decode("latin-1").split("\n")
leaked = [name for name in list(BAD_HEADS) + ["lf-in-target", "too-large"]
          if any(r.startswith(name) for r in recorded)]
check(f"no malformed upgrade reached the app (leaked: {leaked})", not leaked)
check("the well-formed upgrades reached the app",
      "good-upgrade" in recorded and "same-length-twice" in recorded)

# --- 3d and 3a: the access log ----------------------------------------------------
fields, body, _, _ = get('/seen?id=quote"back\\slash')
check(f"a path with '\"' and '\\' is served ({fields.get(':status')})", fields.get(":status") == "200")
time.sleep(0.2)
with open(ACCESS_LOG, encoding="latin-1") as f:
    log = f.read().splitlines()
upgrade_lines = [l for l in log if "/seen?id=good-upgrade" in l]
ms = float(upgrade_lines[0].rsplit(" ", 1)[1].rstrip("ms")) if upgrade_lines else -1
check(f"access log: the upgraded request's duration is its own, not the uptime ({ms} ms)", 0 <= ms < 1000)
check("access log: '\"' and '\\' are escaped as \\xHH",
      any('/seen?id=quote\\x22back\\x5cslash HTTP/2" 200' in l for l in log))
check("access log: every line has the request in one pair of quotes (nothing forged)",
      all(l.startswith('"') and l.count('"') == 2 for l in log))
check("access log: no forged line", not any("forged" in l for l in log))

# --- 3b: the first bytes of a connection ---------------------------------------------
answer, closed = exchange(b"INVALID CONNECTION PREFACE\r\n\r\n")
check(f"'INVALID CONNECTION PREFACE': closed without a byte (got {answer[:30]!r}, closed={closed})",
      answer == b"" and closed)
healthy("an invalid preface")
answer, closed = exchange(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)))
check(f"a TLS ClientHello: closed at once without a byte (got {answer[:30]!r}, closed={closed})",
      answer == b"" and closed)
healthy("a TLS ClientHello")
answer, closed = exchange(b"HELLO\r\n\r\n")
check(f"'HELLO': closed without a byte (got {answer[:30]!r})", answer == b"" and closed)
answer, closed = exchange(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
check(f"a bad HTTP/2 preface: closed without a byte (got {answer[:30]!r})", answer == b"" and closed)
healthy("a bad HTTP/2 preface")
answer, closed = exchange(b"GET / HTTP/1.1\r\nHost: test\r\n", limit=3.0)  # never finished: --header-timeout 1
check(f"an HTTP/1.1 head cut by --header-timeout: closed without HTTP/2 bytes (got {answer[:30]!r})",
      not answer.startswith(b"\x00") and closed)
# Plain HTTP/1.x requests are served over HTTP/1.1 (tests/http2/http1_clients.py in depth).
answer, closed = exchange(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
check(f"an HTTP/1.1 request is served (got {first_line(answer)!r})",
      answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nok\n") and closed)
answer, closed = exchange(b"GET / HTTP/1.0\r\n\r\n")
check(f"an HTTP/1.0 request is served, then closed (got {first_line(answer)!r})",
      answer.startswith(b"HTTP/1.1 200 ") and closed)
answer, closed = exchange(b"G", b"ET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
check(f"an HTTP/1.1 request line in pieces is served (got {first_line(answer)!r})",
      answer.startswith(b"HTTP/1.1 200 "))
s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
s.sendall(PREFACE[:2])
time.sleep(0.1)
s.sendall(PREFACE[2:] + frame(SETTINGS, 0, 0))
fields, body, _, _ = get("/", s=s)
s.close()
check(f"the HTTP/2 preface in pieces shorter than 'PRI ' is served ({fields.get(':status')})",
      fields.get(":status") == "200" and body == b"ok\n")

# --- 3c: response header fields ------------------------------------------------------
for kind in ["cl-mismatch", "cl-nan", "cl-list", "cl-two", "cl-204", "lead-ws", "trail-ws", "ctl", "del", "nul",
             "bad-name", "head-length"]:
    fields, body, frames, _ = get(f"/bad-header?kind={kind}")
    check(f"response with {kind}: 500 (got {fields.get(':status')})", fields.get(":status") == "500")
for kind in ["cl-same-twice", "tab-inside", "upper"]:
    fields, body, frames, _ = get(f"/bad-header?kind={kind}")
    check(f"response with {kind}: 200 (got {fields.get(':status')})", fields.get(":status") == "200")
fields, _, _, _ = get("/bad-header?kind=upper")
check(f"an upper-case name goes out lower-case ({sorted(fields)})", fields.get("x-upper") == "1")
fields, body, _, _ = get("/bad-header?kind=head-length", method="HEAD")
check(f"HEAD: a content-length without the body is fine ({fields.get(':status')}, {fields.get('content-length')})",
      fields.get(":status") == "200" and fields.get("content-length") == "1234")
fields, body, frames, _ = get("/bad-header?kind=stream-exact")
check(f"streamed body matching its content-length: 200, whole ({fields.get(':status')}, {body!r})",
      fields.get(":status") == "200" and body == b"abcdef")
for kind in ["stream-short", "stream-long"]:
    fields, body, frames, _ = get(f"/bad-header?kind={kind}")
    resets = [int.from_bytes(p[:4], "big") for k, _, sid, p in frames if k == RST_STREAM and sid == 1]
    ended = any(sid == 1 and f & END_STREAM for k, f, sid, _ in frames if k != RST_STREAM)
    check(f"streamed body not matching its content-length ({kind}): RST_STREAM INTERNAL_ERROR (got {resets}, "
          f"END_STREAM={ended})", resets == [INTERNAL_ERROR] and not ended)
for kind in ["lead-ws", "ctl", "del", "cl-nan"]:
    _, body, _, _ = get(f"/construct?kind={kind}")
    check(f"fastrt.Response with {kind} raises ValueError in the app ({body!r})", body.startswith(b"ValueError: "))
_, body, _, _ = get("/construct?kind=good")
check(f"fastrt.Response with a good header is built ({body!r})", body == b"built\n")
healthy("bad response headers")

# --- 2c: response header lists too large --------------------------------------------
for kind in ["big-value", "many"]:
    fields, _, _, closed = get(f"/bad-header?kind={kind}")
    check(f"response header list too large ({kind}): 500 (got {fields.get(':status')}, closed={closed})",
          fields.get(":status") == "500")
fields, _, _, _ = get("/bad-header?kind=medium")
check(f"a 2 KB header goes out to a client that takes it ({fields.get(':status')})", fields.get(":status") == "200")
fields, _, _, _ = get("/bad-header?kind=medium", settings=struct.pack(">HI", 6, 1000))
check(f"... and is a 500 for a client with SETTINGS_MAX_HEADER_LIST_SIZE 1000 ({fields.get(':status')})",
      fields.get(":status") == "500")
# A client with a small limit gets 500s, logged once per connection (it may
# set the limit on purpose: its requests must not flood the log).
s = socket.create_connection(("127.0.0.1", PORT), timeout=3)
s.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 6, 1000)))
decoder = hpack.Decoder()
small = [get("/bad-header?kind=medium", s=s, stream=sid, decoder=decoder)[0].get(":status") for sid in (1, 3, 5)]
s.close()
check(f"... three times on one connection: 500 each ({small})", small == ["500"] * 3)

# 150 of them on one connection (above its 100 concurrent streams): each is
# answered and freed, and the connection still serves.
s = connect(PORT)
decoder = hpack.Decoder()
answered = 0
for i in range(150):
    fields, _, _, closed = get("/bad-header?kind=big-value", s=s, stream=1 + 2 * i, decoder=decoder)
    if fields.get(":status") != "500":
        break
    answered += 1
fields, body, _, _ = get("/", s=s, stream=1 + 2 * 150, decoder=decoder)
s.close()
check(f"150 oversized header lists on one connection: all answered 500 ({answered}/150)", answered == 150)
check(f"... and the connection still serves ({fields.get(':status')})", fields.get(":status") == "200")
healthy("oversized response headers")

time.sleep(0.2)
with open(SERVER_ERR, encoding="latin-1") as f:
    err = f.read()
check("log: the content-length mismatch is named",
      "header 'content-length': 5 does not match the body's 3 bytes (500)" in err)
check("log: the oversized header list is logged", "bytes, more than the server sends (64 KiB) (500)" in err)
told = err.count("more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of 1000 (500)")
check(f"log: a client's small header list limit is told once per connection ({told} lines for 2 connections)",
      told == 2)
check("log: the streamed body mismatch is logged",
      "the streamed body has fewer bytes than its content-length: 10 (stream reset)" in err)
sys.exit(failures)
