"""The `async def app` of tests/http2/async_test.sh, awaited in each worker's event loop.

    GET /sleep?s=SECONDS     answers "slept" after await asyncio.sleep(SECONDS)
    GET /asyncio             gather, create_task, a queue, open_connection to a local server
    GET /forever?tag=TAG     sleeps an hour; a CancelledError is recorded under TAG
    GET /ignore-cancel       catches its CancelledError and blocks its worker (time.sleep(30))
    GET /cancelled           the tags recorded in this worker's interpreter, comma-separated
    GET /where               the thread that awaited it ("py-pinned-0" ...)
    POST /first-chunk        the body's first line, from `async for piece in request.stream()`,
                             answered before the body has ended
    POST /stream-hash        "LENGTH SHA256 PIECES" of the body read with request.stream()
    POST /stream-wait        reads the body with request.stream(); a client reset (the task is
                             cancelled, or the read fails) counts in GET /stream-errors
(The /first-chunk, /stream-* routes need --request-body streamed.)
"""
import asyncio
import hashlib
import threading
import time
from urllib.parse import parse_qs

cancelled = []
stream_errors = 0


def _arg(request, name, default):
    return parse_qs(request.query).get(name, [default])[0]


async def _echo(reader, writer):
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _plain_asyncio():
    a, b = await asyncio.gather(asyncio.sleep(0.01, result=1), asyncio.sleep(0.02, result=2))
    queue = asyncio.Queue()
    squares = []

    async def consume():
        while (n := await queue.get()) is not None:
            squares.append(n * n)

    consumer = asyncio.create_task(consume())
    for i in range(4):
        await queue.put(i)
    await queue.put(None)
    await consumer
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return f"{a + b} {sum(squares)} {line.decode().strip()}\n"


async def _streamed(request):
    global stream_errors
    if request.path == "/first-chunk":
        async for piece in request.stream():
            return piece.split(b"\n")[0] + b"\n"
        return b""
    if request.path == "/stream-hash":
        digest, length, pieces = hashlib.sha256(), 0, 0
        async for piece in request.stream():
            pieces += 1
            length += len(piece)
            digest.update(piece)
        return f"{length} {digest.hexdigest()} {pieces}"
    try:
        async for _ in request.stream():
            pass
    except OSError:
        stream_errors += 1
        return (500, [], b"read failed")
    except asyncio.CancelledError:
        stream_errors += 1
        raise
    return "read"


async def app(request):
    if request.path in ("/first-chunk", "/stream-hash", "/stream-wait"):
        return await _streamed(request)
    if request.path == "/stream-errors":
        return f"{stream_errors}"
    if request.path == "/sleep":
        await asyncio.sleep(float(_arg(request, "s", "0.1")))
        return "slept\n"
    if request.path == "/asyncio":
        return await _plain_asyncio()
    if request.path == "/forever":
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(_arg(request, "tag", "?"))
            raise
        return "never\n"
    if request.path == "/ignore-cancel":
        # Catches its cancellation and sleeps, blocking its worker: a
        # shutdown that gives up must name it.
        print("async_app: /ignore-cancel started", flush=True)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            time.sleep(30)
        return "never\n"
    if request.path == "/cancelled":
        return ",".join(cancelled) + "\n"
    if request.path == "/where":
        # The executor names its threads "py-KIND-INDEX".
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as comm:
            return comm.read()
    return (404, [("content-type", "text/plain")], "no such route\n")
