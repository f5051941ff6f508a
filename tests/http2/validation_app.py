"""The Python app of tests/http2/validation_test.sh: responses that break
HTTP/2's field rules, and a record of which requests reached the app.

    GET /bad-header?kind=K     a response with the broken header K (see KINDS)
    GET /construct?kind=K      builds a fastrt.Response with a bad header and
                               answers with the exception it raised (or "built")
    ANY /seen?id=X             records X (one worker: --pinned 1) and answers "ok"
    GET /seen-list             the ids recorded so far, one per line
    anything else              "ok"
"""
from urllib.parse import parse_qs

import fastrt

seen = []


def pieces(*chunks):
    yield from chunks


KINDS = {
    # content-length
    "cl-mismatch": lambda: (200, [("content-length", "5")], b"abc"),
    "cl-nan": lambda: (200, [("content-length", "abc")], b"abc"),
    "cl-list": lambda: (200, [("content-length", "3, 3")], b"abc"),
    "cl-two": lambda: (200, [("content-length", "3"), ("content-length", "4")], b"abc"),
    "cl-same-twice": lambda: (200, [("content-length", "3"), ("content-length", "3")], b"abc"),
    "cl-204": lambda: (204, [("content-length", "5")], b""),
    "head-length": lambda: (200, [("content-length", "1234")], b""),  # a HEAD answer may state the GET length
    # values and names
    "lead-ws": lambda: (200, [("x-v", " a")], b"x"),
    "trail-ws": lambda: (200, [("x-v", "a\t")], b"x"),
    "ctl": lambda: (200, [("x-v", "a\x01b")], b"x"),
    "del": lambda: (200, [("x-v", "a\x7fb")], b"x"),
    "nul": lambda: (200, [("x-v", "a\x00b")], b"x"),
    "bad-name": lambda: (200, [("x y", "1")], b"x"),
    "upper": lambda: (200, [("X-Upper", "1")], b"x"),
    "tab-inside": lambda: (200, [("x-v", "a\tb")], b"x"),  # HTAB inside a value is fine
    # size
    "big-value": lambda: (200, [("x-big", "a" * 70000)], b"x"),
    "many": lambda: (200, [(f"x-h{i}", "v") for i in range(10000)], b"x"),
    "medium": lambda: (200, [("x-medium", "a" * 2000)], b"x"),
    # streamed bodies against their content-length
    "stream-short": lambda: fastrt.Response(pieces(b"abc"), headers={"content-length": "10"}),
    "stream-long": lambda: fastrt.Response(pieces(b"abcdef", b"ghij"), headers={"content-length": "5"}),
    "stream-exact": lambda: fastrt.Response(pieces(b"abc", b"def"), headers={"content-length": "6"}),
}

CONSTRUCT = {
    "lead-ws": {"x-v": " a"},
    "ctl": {"x-v": "a\x01b"},
    "del": {"x-v": "a\x7fb"},
    "cl-nan": {"content-length": "abc"},
    "good": {"x-v": "a b"},
}


def app(request):
    query = parse_qs(request.query)
    if request.path == "/bad-header":
        return KINDS[query["kind"][0]]()
    if request.path == "/construct":
        try:
            fastrt.Response(b"x", headers=CONSTRUCT[query["kind"][0]])
        except ValueError as e:
            return f"ValueError: {e}\n"
        return "built\n"
    if request.path == "/seen":
        seen.append(query.get("id", ["?"])[0])
        return "ok\n"
    if request.path == "/seen-list":
        return "".join(f"{i}\n" for i in seen)
    return "ok\n"
