"""Hand-built HTTP/2 frames for the fastrt-h2 tests (Debian's python3-hpack,
which comes with python3-h2): frame encoding, a connection that has sent the
client preface, and a frame reader that acknowledges the server's SETTINGS."""
import socket
import struct

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED = 0, 1, 2, 3, 4, 5
FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 6, 7, 8, 9, 0xB


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def request_block(path="/", method="GET", extra=()):
    fields = [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path)]
    return hpack.Encoder().encode(fields + list(extra))


class Connection(socket.socket):
    """A client socket; ack_settings=False leaves the server's SETTINGS unacknowledged."""
    ack_settings = True


def connect(port, ack_settings=True):
    s = Connection(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.ack_settings = ack_settings
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return s


def goaway_code(payload):
    return int.from_bytes(payload[4:8], "big")


def read_frames(s, until, limit=5.0):
    """Reads frames until until(kind, flags, stream, payload) is true or the
    peer closes (or `limit` seconds pass without data); returns (frames,
    closed). Acknowledges the server's SETTINGS unless the socket says not to."""
    s.settimeout(limit)
    buf, frames = b"", []
    while True:
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            kind, flags = buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = buf[9:9 + length]
            buf = buf[9 + length:]
            frames.append((kind, flags, stream, payload))
            if kind == SETTINGS and not flags & ACK and getattr(s, "ack_settings", True):
                try:
                    s.sendall(frame(SETTINGS, ACK, 0))
                except OSError:
                    pass
            if until(kind, flags, stream, payload):
                return frames, False
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return frames, True
        if not chunk:
            return frames, True
        buf += chunk


def body_of(frames, stream):
    return b"".join(p for k, _, sid, p in frames if k == DATA and sid == stream)


def statuses(frames):
    """{stream: ":status"} of the response HEADERS in `frames`, decoded in
    order (the server's HPACK dynamic table spans the connection)."""
    decoder, out = hpack.Decoder(), {}
    for k, _, sid, p in frames:
        if k == HEADERS:
            fields = dict(decoder.decode(p))
            out.setdefault(sid, fields.get(":status"))
    return out
