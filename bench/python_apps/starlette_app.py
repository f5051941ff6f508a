"""The Starlette app of the Python-apps benchmark (run_apps_bench.sh): ASGI.

GET /hello -> "Hello, world!" (PlainTextResponse)
GET /json  -> {"message": "Hello, world!", "ok": true, "count": 3} (JSONResponse)
GET /sleep -> "slept" after `await asyncio.sleep(0.05)` (the I/O-bound route)
"""

import asyncio

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("Hello, world!")


async def json_route(request):
    return JSONResponse({"message": "Hello, world!", "ok": True, "count": 3})


async def sleep(request):
    await asyncio.sleep(0.05)
    return PlainTextResponse("slept")


app = Starlette(routes=[
    Route("/hello", hello),
    Route("/json", json_route),
    Route("/sleep", sleep),
])
