# A Starlette app served unchanged by fastrt-h2 (--interface auto picks ASGI)
# and by uvicorn; tests/http2/asgi_compare.py compares their answers.
import asyncio
import hashlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route


async def index(request):
    return PlainTextResponse("Hello from Starlette\n")


async def echo_json(request):
    data = await request.json()
    return JSONResponse({"received": data, "keys": sorted(data), "method": request.method})


async def query(request):
    return JSONResponse({"a": request.query_params.getlist("a"), "b": request.query_params.get("b"),
                         "empty": request.query_params.get("empty"), "raw": request.url.query})


async def path(request):
    return JSONResponse({"name": request.path_params["name"], "path": request.url.path})


async def cookie_set(request):
    r = PlainTextResponse("set\n")
    r.set_cookie("flavour", "oatmeal", expires="Tue, 01 Jan 2030 00:00:00 GMT", httponly=True)
    r.set_cookie("colour", "blue", path="/cookie")
    return r


async def cookie_get(request):
    return JSONResponse(sorted(request.cookies.items()))


async def go_elsewhere(request):
    return RedirectResponse(url="/?from_=redirect")


async def stream(request):
    count = int(request.query_params.get("n", 5))

    async def pieces():
        for i in range(count):
            yield "piece %d of %d\n" % (i, count)

    return StreamingResponse(pieces(), media_type="text/plain")


async def upload(request):
    # Hashed while it streams in: the body is never held whole by the app.
    digest, total = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        total += len(chunk)
    return JSONResponse({"sha256": digest.hexdigest(), "bytes": total})


async def boom(request):
    raise RuntimeError("the app failed on purpose")


async def lifespan_state(request):
    return JSONResponse({"greeting": request.app.state.greeting})


async def sleepy(request):
    await asyncio.sleep(0.01)
    return PlainTextResponse("slept\n")


async def missing(request):
    return JSONResponse({"error": "not here"}, status_code=404)


async def startup():
    await asyncio.sleep(0)
    app.state.greeting = "hello from startup"


app = Starlette(routes=[
    Route("/", index),
    Route("/json", echo_json, methods=["POST"]),
    Route("/query", query),
    Route("/path/{name}", path),
    Route("/cookie/set", cookie_set),
    Route("/cookie/get", cookie_get),
    Route("/redirect", go_elsewhere),
    Route("/stream", stream),
    Route("/upload", upload, methods=["POST"]),
    Route("/boom", boom),
    Route("/lifespan-state", lifespan_state),
    Route("/sleep", sleepy),
    Route("/missing-json", missing),
], on_startup=[startup])
