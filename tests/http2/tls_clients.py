"""Python's ssl and http.client against fastrt-h2 over TLS, and raw-socket
clients that misbehave (tests/http2/tls_test.sh). Each check prints
"ok   NAME" or "FAIL NAME: why"; the exit status is the number of failures.
Every socket has a timeout; the whole run takes a few seconds.

    tls_clients.py PORT CAFILE HANDSHAKE_TIMEOUT_SECONDS
"""
import http.client
import json
import socket
import ssl
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is asked for on purpose

port, cafile, handshake_timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
failures = 0


def check(name, ok, why=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {why}"))
    if not ok:
        failures += 1


def context(alpn=("http/1.1",), minimum=None, maximum=None):
    c = ssl.create_default_context(cafile=cafile)
    if alpn:
        c.set_alpn_protocols(list(alpn))
    if minimum:
        c.minimum_version = minimum
    if maximum:
        c.maximum_version = maximum
    return c


def healthy(after):
    """A client that does everything right still gets its answer."""
    conn = http.client.HTTPSConnection("localhost", port, context=context(), timeout=10)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        check(f"after {after}: a healthy client is answered", r.status == 200 and b"Hello" in r.read(), r.status)
    finally:
        conn.close()


def closed_within(sock, seconds):
    """Reads until EOF; the time it took, or None if still open after `seconds`."""
    start = time.monotonic()
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except (socket.timeout, TimeoutError):
        return None, data
    except ConnectionResetError:
        pass
    return time.monotonic() - start, data


# http.client over TLS 1.3 and 1.2, the certificate verified against CAFILE.
for label, maximum in (("TLS 1.3", None), ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
    conn = http.client.HTTPSConnection("localhost", port, context=context(maximum=maximum), timeout=10)
    conn.request("GET", "/json")
    r = conn.getresponse()
    body = r.read()
    version = conn.sock.version()
    alpn = conn.sock.selected_alpn_protocol()
    try:
        scheme = json.loads(body).get("scheme")
    except ValueError:
        scheme = None
    check(f"http.client {label} (verified, ALPN {alpn}, {version}): 200 with scheme https",
          r.status == 200 and scheme == "https" and alpn == "http/1.1" and version == ("TLSv1.2" if maximum else "TLSv1.3"),
          f"{r.status} {body[:100]!r} {version} {alpn}")
    # Keep-alive over TLS: the same connection answers again.
    conn.request("POST", "/echo", body=b"x" * 100_000)
    r = conn.getresponse()
    check(f"http.client {label}: a 100 kB POST on the same connection is echoed",
          r.status == 200 and r.read() == b"x" * 100_000, r.status)
    conn.close()

# No ALPN at all: HTTP/1.1.
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with context(alpn=None).wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        elapsed, data = closed_within(tls, 10)
        check("no ALPN: served as HTTP/1.1", data.startswith(b"HTTP/1.1 200") and tls.selected_alpn_protocol() is None,
              data[:80])

# ALPN with nothing we speak: the handshake fails (no_application_protocol).
try:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context(alpn=("spdy/3", "foo")).wrap_socket(raw, server_hostname="localhost"):
            pass
    check("ALPN without h2 or http/1.1: the handshake fails", False, "it succeeded")
except ssl.SSLError as e:
    check("ALPN without h2 or http/1.1: the handshake fails (no application protocol)",
          "NO APPLICATION PROTOCOL" in str(e).upper().replace("_", " "), str(e))
healthy("a client without a shared ALPN")

# TLS 1.1 and older: refused.
try:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with old.wrap_socket(raw):
            pass
    check("TLS 1.1: refused", False, "the handshake succeeded")
except (ssl.SSLError, ConnectionResetError) as e:
    check("TLS 1.1: refused", True)
healthy("a TLS 1.1 client")

# Plaintext HTTP to the TLS port: no HTTP answer, the connection closes at once.
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    elapsed, data = closed_within(raw, 5)
    check(f"plaintext HTTP/1.1: closed without an HTTP answer ({elapsed and round(elapsed, 2)} s)",
          elapsed is not None and elapsed < 2 and not data.startswith(b"HTTP"), data[:80])
healthy("a plaintext HTTP client")

# Garbage: the same.
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    raw.sendall(bytes(range(256)) * 8)
    elapsed, data = closed_within(raw, 5)
    check("garbage bytes: closed at once", elapsed is not None and elapsed < 2, data[:80])
healthy("a garbage client")

# A client that connects and sends nothing, and one that stops in the middle
# of its ClientHello: cut by --tls-handshake-timeout.
for label, first in (("sends nothing", b""), ("half a ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        if first:
            raw.sendall(first)
        elapsed, _ = closed_within(raw, handshake_timeout + 5)
        check(f"stalled handshake ({label}): closed after --tls-handshake-timeout "
              f"({elapsed and round(elapsed, 2)} s of {handshake_timeout})",
              elapsed is not None and handshake_timeout - 0.3 <= elapsed <= handshake_timeout + 2.5, elapsed)
    healthy(f"a stalled handshake ({label})")

# Many handshakes at once, some stalled: the healthy ones are not held up.
stalled = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
start = time.monotonic()
healthy("20 stalled handshakes held open")
check("20 stalled handshakes do not delay a healthy client", time.monotonic() - start < 2)
for s in stalled:
    s.close()

sys.exit(failures)
