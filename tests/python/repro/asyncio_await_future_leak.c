// Minimal reproducer (not built by CMake): CPython 3.13.0 leaks part of an
// own-GIL subinterpreter's asyncio module graph (code objects, module dict
// keys: ~42 KB in 42 blocks above obmalloc's size limit, plus arena blocks)
// at Py_EndInterpreter once a Task has awaited a Future (`await fut`: an
// _asyncio.FutureIter). "import asyncio", new_event_loop(), or
// run_until_complete(future) without an `await` inside a task do not leak.
// Likely cause: FutureIter objects parked on _asyncio's per-module freelist
// keep their heap type, hence the module and what its state refers to,
// alive, and since gh-122695 (3.13.0) the GC no longer traverses that
// freelist: calling _asyncio's m_clear just before Py_EndInterpreter (not
// safe in general, so fastrt does not) frees all but ~1.7 KB. fastrt's worker event loops (include/fastrt/python/event_loop.hpp)
// hit it whenever an async handler awaits: LeakSanitizer then reports it at
// exit (tests python_event_loop_test and fastrt_h2_async_test under the asan
// preset). Without fastrt:
//
//   P=/root/.pyenv/versions/3.13.0; M=3.13
//   clang-19 -fsanitize=address -g asyncio_await_future_leak.c -DPYHOME="\"$P\"" \
//     -I$P/include/python$M -L$P/lib -lpython$M -Wl,-rpath,$P/lib -o repro
//   LSAN_OPTIONS=suppressions=tests/lsan_python.supp ./repro   # SUMMARY: 42545 byte(s) leaked
#include <Python.h>

static const char* code =
    "import asyncio\n"
    "async def main():\n"
    "    f = asyncio.get_running_loop().create_future()\n"
    "    asyncio.get_running_loop().call_soon(f.set_result, 1)\n"
    "    await f\n"
    "loop = asyncio.new_event_loop()\n"
    "loop.run_until_complete(main())\n"
    "loop.close()\n";

int main(void) {
  PyConfig c; PyConfig_InitIsolatedConfig(&c);
  PyConfig_SetBytesString(&c, &c.home, PYHOME);
  Py_InitializeFromConfig(&c); PyConfig_Clear(&c);
  PyThreadState* main_ts = PyEval_SaveThread();
  PyInterpreterConfig cfg = {0};
  cfg.allow_threads = 1; cfg.check_multi_interp_extensions = 1; cfg.gil = PyInterpreterConfig_OWN_GIL;
  PyThreadState* ts = NULL;
  PyStatus st = Py_NewInterpreterFromConfig(&ts, &cfg);
  if (PyStatus_Exception(st)) return 1;
  if (PyRun_SimpleString(code) != 0) return 2;
  Py_EndInterpreter(ts);
  PyEval_RestoreThread(main_ts);
  return Py_FinalizeEx();
}
