# A Quart app served unchanged by fastrt-h2 (--interface auto picks ASGI)
# and by uvicorn; tests/http2/asgi_compare.py compares their answers.
import asyncio
import datetime
import hashlib
import logging

from quart import Quart, jsonify, make_response, redirect, request, url_for

# Quart 0.18 logs through a daemon thread unless logging is configured, and
# own-GIL subinterpreters refuse daemon threads: configure it (as most apps do).
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

app = Quart(__name__)


@app.before_serving
async def startup():
    await asyncio.sleep(0)
    app.greeting = "hello from startup"


@app.route("/")
async def index():
    return "Hello from Quart\n", 200, {"content-type": "text/plain; charset=utf-8"}


@app.route("/json", methods=["POST"])
async def echo_json():
    data = await request.get_json()
    return jsonify(received=data, keys=sorted(data), method=request.method)


@app.route("/query")
async def query():
    return jsonify(a=request.args.getlist("a"), b=request.args.get("b"), empty=request.args.get("empty"),
                   raw=request.query_string.decode("latin-1"))


@app.route("/path/<name>")
async def path(name):
    return jsonify(name=name, path=request.path)


@app.route("/cookie/set")
async def cookie_set():
    r = await make_response("set\n", 200, {"content-type": "text/plain"})
    r.set_cookie("flavour", "oatmeal", expires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
                 httponly=True)
    r.set_cookie("colour", "blue", path="/cookie")
    return r


@app.route("/cookie/get")
async def cookie_get():
    return jsonify(sorted(request.cookies.items()))


@app.route("/redirect")
async def go_elsewhere():
    return redirect(url_for("index", from_="redirect"))


@app.route("/stream")
async def stream():
    count = request.args.get("n", 5, type=int)

    async def pieces():
        for i in range(count):
            yield ("piece %d of %d\n" % (i, count)).encode()

    return pieces(), 200, {"content-type": "text/plain"}


@app.route("/upload", methods=["POST"])
async def upload():
    # Hashed while it streams in: the body is never held whole by the app.
    digest, total = hashlib.sha256(), 0
    async for chunk in request.body:
        digest.update(chunk)
        total += len(chunk)
    return jsonify(sha256=digest.hexdigest(), bytes=total)


@app.route("/boom")
async def boom():
    raise RuntimeError("the app failed on purpose")


@app.route("/lifespan-state")
async def lifespan_state():
    return jsonify(greeting=app.greeting)


@app.route("/sleep")
async def sleepy():
    await asyncio.sleep(0.01)
    return "slept\n", 200, {"content-type": "text/plain"}


@app.route("/missing-json")
async def missing():
    return jsonify(error="not here"), 404
