"""Async handlers the python_event_loop test awaits in a worker's event loop."""

import asyncio
import threading

# Tags of the tasks that saw CancelledError (per interpreter).
cancelled = []


async def nap(ms):
    await asyncio.sleep(ms / 1000)
    return ms


def plain(n):
    return n + 1


async def fail(n):
    await asyncio.sleep(0)
    raise ValueError(f"async failure {n}")


async def wait_forever(tag):
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        cancelled.append(tag)
        raise
    return -1


def cancelled_tags(_n):
    return sum(cancelled)


async def _square(q, out):
    while True:
        n = await q.get()
        if n is None:
            return
        out.append(n * n)


async def plain_asyncio(n):
    """gather, create_task, a queue and a local TCP echo over open_connection."""
    a, b = await asyncio.gather(asyncio.sleep(0.01, result=1), asyncio.sleep(0.02, result=2))
    q = asyncio.Queue()
    out = []
    consumer = asyncio.create_task(_square(q, out))
    for i in range(n):
        await q.put(i)
    await q.put(None)
    await consumer

    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    assert line == b"ping\n", line
    return a + b + sum(out)


def loop_thread(_n):
    """The id of the thread the running loop is on (it must be the worker's)."""
    return threading.get_ident()


async def loop_thread_async(_n):
    return threading.get_ident()


async def quick(n):
    """Returns without suspending: an eager task finishes as it starts."""
    if n < 0:
        raise KeyError(n)
    return n * 2
