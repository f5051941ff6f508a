"""The `async def app` of tests/http2/async_test.sh, awaited in each worker's event loop.

    GET /sleep?s=SECONDS     answers "slept" after await asyncio.sleep(SECONDS)
    GET /asyncio             gather, create_task, a queue, open_connection to a local server
    GET /forever?tag=TAG     sleeps an hour; a CancelledError is recorded under TAG
    GET /cancelled           the tags recorded in this worker's interpreter, comma-separated
    GET /where               the thread that awaited it ("py-pinned-0" ...)
"""
import asyncio
import threading
from urllib.parse import parse_qs

cancelled = []


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


async def app(request):
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
    if request.path == "/cancelled":
        return ",".join(cancelled) + "\n"
    if request.path == "/where":
        # The executor names its threads "py-KIND-INDEX".
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as comm:
            return comm.read()
    return (404, [("content-type", "text/plain")], "no such route\n")
