# A Flask app served unchanged by fastrt-h2 (--interface auto picks WSGI) and
# by gunicorn; tests/http2/wsgi_test.py compares their answers.
import datetime
import hashlib
import json

from flask import Flask, Response, jsonify, redirect, request, stream_with_context, url_for

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask\n"


@app.route("/json", methods=["POST"])
def echo_json():
    data = request.get_json()
    return jsonify(received=data, keys=sorted(data), method=request.method)


@app.route("/query")
def query():
    # Repeated keys, percent-encoding and an empty value.
    return jsonify(a=request.args.getlist("a"), b=request.args.get("b"), empty=request.args.get("empty"),
                   raw=request.query_string.decode("latin-1"))


@app.route("/path/<name>")
def path(name):
    # PATH_INFO is percent-decoded (then latin-1 per PEP 3333); Flask re-decodes it as UTF-8.
    return jsonify(name=name, path=request.path)


@app.route("/cookie/set")
def cookie_set():
    r = Response("set\n", mimetype="text/plain")
    # A fixed expiry: max_age would put the current time in Expires.
    r.set_cookie("flavour", "oatmeal", expires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
                 httponly=True)
    r.set_cookie("colour", "blue", path="/cookie")
    return r


@app.route("/cookie/get")
def cookie_get():
    return jsonify(sorted(request.cookies.items()))


@app.route("/redirect")
def go_elsewhere():
    return redirect(url_for("index", from_="redirect"))


@app.route("/stream")
def stream():
    count = request.args.get("n", 5, type=int)

    def pieces():
        for i in range(count):
            yield "piece %d of %d\n" % (i, count)

    return Response(stream_with_context(pieces()), mimetype="text/plain")


@app.route("/upload", methods=["POST"])
def upload():
    digest = hashlib.sha256()
    total = 0
    while True:
        chunk = request.stream.read(64 * 1024)
        if not chunk:
            break
        digest.update(chunk)
        total += len(chunk)
    return jsonify(sha256=digest.hexdigest(), bytes=total)


@app.route("/environ")
def environ():
    # What every framework builds on; the test checks the values itself
    # (they differ between servers: ports, SERVER_PROTOCOL).
    e = request.environ
    keys = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
            "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "HTTP_HOST", "HTTP_X_REPEAT", "wsgi.url_scheme"]
    out = {k: e.get(k) for k in keys}
    out["wsgi.version"] = list(e["wsgi.version"])
    out["wsgi.multithread"] = e["wsgi.multithread"]
    out["wsgi.multiprocess"] = e["wsgi.multiprocess"]
    out["wsgi.run_once"] = e["wsgi.run_once"]
    out["wsgi.input_terminated"] = e.get("wsgi.input_terminated")
    out["errors"] = type(e["wsgi.errors"]).__name__
    return Response(json.dumps(out, sort_keys=True), mimetype="application/json")


@app.route("/missing-json")
def missing():
    return jsonify(error="not here"), 404


@app.route("/boom")
def boom():
    raise RuntimeError("the app failed on purpose")
