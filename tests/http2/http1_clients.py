"""fastrt-h2's HTTP/1.1 codec from the client side (tests/http2/http1_test.sh
starts the server: test_app:app, --cpp-demo-routes, --max-body-size 1000,
--header-timeout 1, --body-timeout 1, --idle-timeout 2). Python's
http.client, then raw sockets: pipelining, 100-continue, HTTP/1.0
keep-alive, the request-smuggling and malformed cases (each followed by a
healthy request, and the request hidden in a smuggling attempt must never
run), and the timeouts. Usage: http1_clients.py PORT"""
import http.client
import select
import socket
import sys
import time

PORT = int(sys.argv[1])
failures = 0


def check(name, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures += 1


def connect(timeout=5.0):
    return socket.create_connection(("127.0.0.1", PORT), timeout=timeout)


class Reader:
    """Reads HTTP/1.1 responses off a socket (content-length, chunked, or to EOF)."""

    def __init__(self, s):
        self.s, self.buf, self.eof = s, b"", False

    def fill(self):
        try:
            chunk = self.s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk
        return bool(chunk)

    def line(self):
        while b"\r\n" not in self.buf:
            if not self.fill():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def take(self, n):
        while len(self.buf) < n:
            if not self.fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_request=False):
        """(status, {field: value}, body) or None when the connection ended first."""
        status = self.line()
        if not status:
            return None
        fields = {}
        while True:
            line = self.line()
            if line is None:
                return None
            if line == b"":
                break
            name, _, value = line.partition(b":")
            fields[name.decode().lower()] = value.strip().decode()
        code = int(status.split(b" ")[1])
        if head_request or code in (100, 204, 304):
            return code, fields, b""
        if "content-length" in fields:
            return code, fields, self.take(int(fields["content-length"]))
        if fields.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self.line(), 16)
                if size == 0:
                    self.line()
                    return code, fields, body
                body += self.take(size)
                self.line()
        while self.fill():
            pass
        return code, fields, self.buf

    def closed(self, limit=3.0):
        """True once the server closes (within `limit` seconds)."""
        self.s.settimeout(limit)
        while not self.eof:
            if not self.fill():
                break
        return self.eof


def exchange(data, head_request=False):
    s = connect()
    s.sendall(data)
    r = Reader(s)
    got = r.response(head_request)
    closed = r.closed()
    s.close()
    return got, closed


def healthy(after):
    got, _ = exchange(b"GET /cpp/hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    check(f"a healthy request after {after} is served", got is not None and got[0] == 200)


def hits():
    got, _ = exchange(b"GET /hits HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    return got[2] if got else None


# --- Python's http.client: keep-alive, POST, HEAD, chunked answers ---------------
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
c.request("GET", "/cpp/hello")
r = c.getresponse()
body = r.read()
first_sock = c.sock
check(f"http.client GET (C++ route): {r.status} {body!r}", r.status == 200 and body == b"Hello from fastrt-h2 (C++)\n")
c.request("POST", "/echo", body=b"x" * 500)
r = c.getresponse()
body = r.read()
check(f"http.client POST echoed by the Python app on the same connection ({r.status}, {len(body)} bytes)",
      r.status == 200 and body == b"x" * 500 and c.sock is first_sock)
c.request("HEAD", "/cpp/hello")
r = c.getresponse()
check(f"http.client HEAD: no body, the GET's length ({r.getheader('content-length')})",
      r.status == 200 and r.read() == b"" and r.getheader("content-length") == "27")
c.request("GET", "/stream?bytes=200000")
r = c.getresponse()
body = r.read()
check(f"http.client: a streamed Python body arrives chunked ({r.getheader('transfer-encoding')}, {len(body)} bytes)",
      r.getheader("transfer-encoding") == "chunked" and body == b"p" * 200000)
c.request("GET", "/cpp/hello", headers={"Connection": "close"})
r = c.getresponse()
check(f"http.client Connection: close is honoured ({r.getheader('connection')})",
      r.read() and r.getheader("connection") == "close")
c.close()

# --- pipelining: three requests in one write, answers in order -------------------
s = connect()
s.sendall(b"GET /cpp/hello HTTP/1.1\r\nHost: t\r\n\r\n"
          b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
          b"GET /sleep?s=0.05 HTTP/1.1\r\nHost: t\r\n\r\n"
          b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
r = Reader(s)
answers = [r.response() for _ in range(4)]
check(f"pipelined: four answers in order ({[a and (a[0], a[2][:12]) for a in answers]})",
      all(answers) and [a[2] for a in answers] == [b"Hello from fastrt-h2 (C++)\n", b"abcde", b"slept\n", b"ok\n"])
check("pipelined: closed after Connection: close", r.closed())
s.close()

# --- 100-continue ----------------------------------------------------------------
s = connect()
s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
r = Reader(s)
interim = r.response()
check(f"Expect: 100-continue gets 100 before the body is sent ({interim and interim[0]})",
      interim is not None and interim[0] == 100)
s.sendall(b"hello")
final = r.response()
check(f"... then the answer ({final and (final[0], final[2])})", final is not None and final[2] == b"hello")
s.close()
got, closed = exchange(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
check(f"Expect: 100-continue with a body over --max-body-size: 413 at once, no 100 ({got and got[0]})",
      got is not None and got[0] == 413 and closed)

# --- HTTP/1.0 --------------------------------------------------------------------
s = connect()
s.sendall(b"GET /cpp/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
r = Reader(s)
a = r.response()
s.sendall(b"GET /stream?bytes=1000 HTTP/1.0\r\n\r\n")
b = r.response()
check(f"HTTP/1.0 keep-alive: a second request on the connection ({a and a[1].get('connection')})",
      a is not None and a[1].get("connection") == "keep-alive" and b is not None and b[0] == 200)
check(f"HTTP/1.0: a streamed body is close-delimited ({b and len(b[2])} bytes, closed)",
      b is not None and b[2] == b"p" * 1000 and "content-length" not in b[1] and r.eof)
s.close()

# --- refusals: each closes the connection; the next client is served -------------
before = hits()
SMUGGLED = b"GET /hit HTTP/1.1\r\nHost: t\r\n\r\n"
CASES = [
    ("Transfer-Encoding with Content-Length (CL.TE)", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("Content-Length with Transfer-Encoding (TE.CL)", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + SMUGGLED +
     b"\r\n0\r\n\r\n"),
    ("two Content-Length values", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 31\r\n\r\n" + SMUGGLED),
    ("chunked not the final coding", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("an obfuscated Transfer-Encoding", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("gzip, chunked (not implemented)", 501,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("Transfer-Encoding in HTTP/1.0", 400, b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("obs-fold", 400, b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n" + SMUGGLED),
    ("a bare CR in a field", 400, b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n" + SMUGGLED),
    ("a bare LF ending a field", 400, b"GET / HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n" + SMUGGLED),
    ("an invalid chunk size", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    ("an oversized chunk extension", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;" + b"e" * 5000 + b"\r\nabc\r\n0\r\n\r\n"),
    ("chunk data longer than its size", 400,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n" + SMUGGLED),
    ("a second request with two Content-Length values", 400,
     b"GET / HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
    ("a request line over 8 KiB", 414, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("a head over 8 KiB", 431, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"),
    ("a body over --max-body-size", 413, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n"),
    ("a chunked body over --max-body-size", 413,
     b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + b"z" * 1001),
    ("an unsupported expectation", 417, b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx"),
]
for what, status, data in CASES:
    s = connect()
    s.sendall(data)
    r = Reader(s)
    answers = []
    while True:
        a = r.response()
        if a is None:
            break
        answers.append(a[0])
    s.close()
    check(f"{what}: {status} and close (got {answers})", answers and answers[-1] == status and
          answers.count(status) == 1 and all(code == 200 for code in answers[:-1]))
    healthy(what)
check(f"no request hidden in a refused one ran (/hits {before!r} → {hits()!r})", hits() == before)

# --- timeouts ----------------------------------------------------------------------
s = connect()
start = time.monotonic()
s.sendall(b"GET /cpp/hello HTTP/1.1\r\nHost: t\r\n\r\n")
r = Reader(s)
r.response()
closed = r.closed(limit=6.0)
check(f"--idle-timeout 2: an idle keep-alive connection is closed ({time.monotonic() - start:.1f} s)",
      closed and 1.5 < time.monotonic() - start < 5)
s.close()
s = connect()
s.sendall(b"GET /cpp/hello HTTP/1.1\r\nHost: t\r\n\r\nGET /cpp/hello HTTP/1.1\r\nHo")
r = Reader(s)
r.response()
start = time.monotonic()
closed = r.closed(limit=5.0)
check(f"--header-timeout 1: a second head that stops coming closes the connection, unanswered "
      f"({time.monotonic() - start:.1f} s, {r.buf[:20]!r})", closed and r.buf == b"" and time.monotonic() - start < 3)
s.close()
s = connect()
s.sendall(b"GET /cpp/hello HTTP/1.1\r\nHost: t\r\n\r\n")
r = Reader(s)
r.response()
start, closed = time.monotonic(), False
try:
    for byte in b"GET /cpp/hello HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 40:  # a byte every 0.2 s: slowloris
        s.sendall(bytes([byte]))
        time.sleep(0.2)
        if select.select([s], [], [], 0)[0] and s.recv(1000) == b"":
            closed = True
            break
        if time.monotonic() - start > 4:
            break
except OSError:
    closed = True
check(f"--header-timeout 1 bounds a whole head, however slowly it trickles ({time.monotonic() - start:.1f} s)",
      closed and time.monotonic() - start < 3)
s.close()
s = connect()
s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
got, closed = Reader(s).response(), Reader(s).closed(limit=5.0)
check(f"--body-timeout 1: a body that stops coming gets 408 ({got and got[0]})", got is not None and got[0] == 408)
s.close()

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
