"""The native fastrt-h2 app of the I/O-bound benchmark: `async def app(request)`
that awaits asyncio.sleep(0.05) in the worker's event loop, then answers "slept"
(the same body as starlette_app.py's /sleep)."""

import asyncio


async def app(request):
    await asyncio.sleep(0.05)
    return b"slept"
