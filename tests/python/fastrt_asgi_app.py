# A hand-written ASGI 3.0 app for tests/http2_python_asgi_test.cpp (and
# tests/http2/asgi_test.sh): each path shows one part of the protocol.
# Module globals record what the app saw (per interpreter: /seen reads them).
import asyncio
import hashlib
import json
import time
import zlib

seen = {"disconnects": 0, "cancelled": 0, "lifespan": []}
released = None  # /hold waits for it (an asyncio.Event of this interpreter's loop), GET /release sets it


async def adler_of_body(receive):
    """ "LENGTH ADLER32" of the body, as tests/http2/streamed_body_client.py's window mode checks it."""
    total, adler = 0, 1
    while True:
        message = await receive()
        total += len(message["body"])
        adler = zlib.adler32(message["body"], adler)
        if not message.get("more_body", False):
            return b"%d %d" % (total, adler)


async def read_body(receive):
    digest, total, pieces = hashlib.sha256(), 0, 0
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        digest.update(message["body"])
        total += len(message["body"])
        pieces += 1
        if not message.get("more_body", False):
            return digest.hexdigest(), total, pieces


async def answer(send, status, body, content_type=b"text/plain", headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type)] + list(headers)})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    path = scope["path"]
    if path.startswith("/scope"):
        shown = {k: v for k, v in scope.items() if k not in ("headers", "raw_path", "query_string", "state")}
        shown["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
        shown["raw_path"] = scope["raw_path"].decode("latin-1")
        shown["query_string"] = scope["query_string"].decode("latin-1")
        shown["state"] = sorted(scope["state"].items())
        shown["client"] = list(scope["client"]) if scope["client"] else None
        shown["server"] = list(scope["server"]) if scope["server"] else None
        shown["first"] = await receive()
        shown["first"]["body"] = shown["first"]["body"].decode("latin-1")
        return await answer(send, 200, json.dumps(shown).encode(), b"application/json")
    if path == "/hash":
        digest, total, pieces = await read_body(receive)
        return await answer(send, 200, json.dumps({"sha256": digest, "bytes": total, "pieces": pieces}).encode(),
                            b"application/json")
    if path == "/echo":
        # Streams the request body back as it comes (the body is not held whole).
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
        while True:
            message = await receive()
            await send({"type": "http.response.body", "body": message["body"], "more_body": True})
            if not message.get("more_body", False):
                break
        return await send({"type": "http.response.body", "body": b""})
    if path == "/stream":
        count = int(scope["query_string"].decode().partition("n=")[2] or 10)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(count):
            await send({"type": "http.response.body", "body": b"piece %d\n" % i, "more_body": True})
        return await send({"type": "http.response.body", "body": b"", "more_body": False})
    if path == "/raise-before":
        raise KeyError("before the response")
    if path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("broken ASGI body")
    if path == "/no-response":
        return None
    if path == "/body-before-start":
        await send({"type": "http.response.body", "body": b"x"})
    if path == "/start-twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
    if path == "/str-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": "not bytes"})
    if path == "/wait-disconnect":
        # Waits in receive() past the body: a client reset must say http.disconnect, then cancel.
        await receive()
        try:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen["disconnects"] += 1
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen["cancelled"] += 1
            raise
        return await answer(send, 200, b"not reached")
    if path == "/slow":
        await asyncio.sleep(float(scope["query_string"].decode().partition("s=")[2] or 5))
        return await answer(send, 200, b"slow")
    if path == "/forever-stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x" * 16384, "more_body": True})
        except asyncio.CancelledError:
            seen["cancelled"] += 1
            raise
    if path in ("/hold", "/release"):
        # /hold does not call receive() until GET /release: the client must stall after the stream's window.
        global released
        if released is None:
            released = asyncio.Event()
        if path == "/release":
            released.set()
            return await answer(send, 200, b"released")
        await released.wait()
        return await answer(send, 200, await adler_of_body(receive))
    if path == "/buffered":
        return await answer(send, 200, await adler_of_body(receive))
    if path == "/glue-tasks":
        # The Tasks the server's glue runs beside this app's own (asgi_glue.hpp):
        # none once the worker's loop runs, for an app that answers at once.
        glue = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__.startswith("Channel.")]
        return await answer(send, 200, str(len(glue)).encode())
    if path == "/version":
        return await answer(send, 200, scope["http_version"].encode())
    if path == "/ignore-cancel":
        # Catches its cancellation and sleeps, blocking its worker: a shutdown
        # that gives up must name it.
        print("fastrt_asgi_app: /ignore-cancel started", flush=True)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            time.sleep(30)
    if path == "/seen":
        return await answer(send, 200, json.dumps(seen).encode(), b"application/json")
    return await answer(send, 404, b"no such path\n")


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        seen["lifespan"].append(message["type"])
        if message["type"] == "lifespan.startup":
            scope["state"]["greeting"] = "hello from startup"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            print("fastrt_asgi_app: lifespan shutdown", flush=True)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "the database is not there"})
        return
    await answer(send, 200, b"never")


async def no_lifespan(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("only http here")
    await answer(send, 200, b"no lifespan")


class AsgiTwo:
    # ASGI 2: the double callable.
    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        pass
