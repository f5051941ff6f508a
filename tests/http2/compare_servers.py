"""What the server comparisons (wsgi_compare.py, asgi_compare.py) share: a
python-h2 client for fastrt-h2, an http.client one for the reference server
(gunicorn, uvicorn), the answers' comparable parts, a check counter, the
requests every compared app (tests/http2/apps/) answers, and the loop that
sends each to both servers and compares. Bounded: every socket has a 10 s
timeout."""
import hashlib
import http.client
import json
import os
import socket
import sys

import h2.config
import h2.connection
import h2.events

failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures += 1


class Answer:
    def __init__(self, status, headers, body, client_port=None):
        self.status, self.headers, self.body, self.client_port = status, headers, body, client_port

    def all(self, name):
        return [v for n, v in self.headers if n == name]

    def compared(self):
        return {"status": self.status, "body": self.body, "content-type": self.all("content-type"),
                "location": self.all("location"), "set-cookie": sorted(self.all("set-cookie")),
                # A set in werkzeug: its order follows the process's string hashing.
                "allow": sorted(m.strip() for v in self.all("allow") for m in v.split(","))}


def over_h2(fastrt_port, method, path, headers=(), body=b""):
    """One request on its own connection; sends the body under flow control."""
    sock = socket.create_connection(("127.0.0.1", fastrt_port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="latin-1"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    fields = [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1:%d" % fastrt_port),
              (":path", path)] + list(headers)
    conn.send_headers(sid, fields, end_stream=not body)
    sock.sendall(conn.data_to_send())
    status, got_headers, data, done, sent = None, [], bytearray(), False, 0
    while not done:
        while sent < len(body):
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(body) - sent)
            if room <= 0:
                break
            conn.send_data(sid, body[sent:sent + room], end_stream=sent + room == len(body))
            sent += room
        sock.sendall(conn.data_to_send())
        chunk = sock.recv(65536)
        if not chunk:
            break
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.ResponseReceived):
                got_headers = [(n.lower(), v) for n, v in event.headers]
                status = int(dict(got_headers)[":status"])
            elif isinstance(event, h2.events.DataReceived):
                data += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                done = True
        sock.sendall(conn.data_to_send())
    client_port = sock.getsockname()[1]
    sock.close()
    return Answer(status, [(n, v) for n, v in got_headers if not n.startswith(":")], bytes(data), client_port)


def over_http1(reference_port, method, path, headers=(), body=b""):
    conn = http.client.HTTPConnection("127.0.0.1", reference_port, timeout=10)
    conn.request(method, path, body=body or None, headers=dict(headers))
    r = conn.getresponse()
    data = r.read()
    answer = Answer(r.status, [(n.lower(), v) for n, v in r.getheaders()], data)
    conn.close()
    return answer


def common_requests():
    """(name, method, path, headers, body) that every app in tests/http2/apps/ answers."""
    upload = os.urandom(3 * 1024 * 1024)
    return [
        ("hello", "GET", "/", (), b""),
        ("HEAD", "HEAD", "/", (), b""),
        ("JSON in and out", "POST", "/json", (("content-type", "application/json"),),
         json.dumps({"name": "fastrt", "n": [1, 2, 3], "nested": {"ok": True}}).encode()),
        ("query string", "GET", "/query?a=1&a=2&b=%C3%A9+x&empty=", (), b""),
        ("percent-encoded path", "GET", "/path/caf%C3%A9%20au%20lait", (), b""),
        ("cookies set", "GET", "/cookie/set", (), b""),
        ("cookies read", "GET", "/cookie/get", (("cookie", "flavour=oatmeal; colour=blue"),), b""),
        ("redirect", "GET", "/redirect", (), b""),
        ("streamed response", "GET", "/stream?n=50", (), b""),
        ("3 MiB upload hashed as the app reads it", "POST", "/upload",
         (("content-type", "application/octet-stream"),), upload),
        ("app exception (500)", "GET", "/boom", (), b""),
        ("404 from a route", "GET", "/missing-json", (), b""),
        ("404, no route", "GET", "/nope", (), b""),
    ]


def compare_all(requests, fastrt_port, reference_port, reference_name):
    """Each request to both servers: the answers must be the same; the upload's
    hash and the streamed pieces are checked too."""
    for name, method, path, headers, body in requests:
        ours = over_h2(fastrt_port, method, path, headers, body)
        theirs = over_http1(reference_port, method, path, headers, body)
        detail = "fastrt-h2 %r\n     %-9s %r" % (ours.compared(), reference_name, theirs.compared())
        check("same answer: %s (%s %s -> %s)" % (name, method, path, ours.status),
              ours.compared() == theirs.compared(), detail)
        if path == "/upload":
            try:
                digest = json.loads(ours.body)["sha256"]
            except (ValueError, KeyError):
                digest = None
            check("the upload's hash is right", digest == hashlib.sha256(body).hexdigest(),
                  ours.body.decode(errors="replace"))
        if path == "/stream?n=50":
            check("the streamed body came in 50 pieces", ours.body.count(b"\n") == 50, repr(ours.body[:80]))


def finish():
    print("%d check(s) failed" % failures if failures else "all checks passed")
    sys.exit(1 if failures else 0)
