// Minimal reproducer (not built by CMake) of a CPython 3.12.1 bug: once an
// asyncio event loop has run (here run_until_complete of a plain future) in
// an own-GIL subinterpreter, Py_FinalizeEx later aborts in the main
// interpreter ("munmap_chunk(): invalid pointer" / "double free or
// corruption"), even with `_asyncio` imported in the main interpreter first
// (the workaround of py312_asyncio_subinterpreter_crash.c, done here too).
// Creating and closing a loop without running it does not crash. 3.13.0 runs
// it cleanly. This is why fastrt's worker event loops
// (include/fastrt/python/event_loop.hpp) run only on main-interpreter
// workers on 3.12.
//
//   P=/root/.pyenv/versions/3.12.1
//   gcc py312_asyncio_loop_crash.c -DPYHOME="\"$P\"" -I$P/include/python3.12 \
//     -L$P/lib -lpython3.12 -Wl,-rpath,$P/lib -o repro && ./repro   # aborts
#include <Python.h>

static const char* code =
    "import asyncio\n"
    "loop = asyncio.new_event_loop()\n"
    "f = loop.create_future()\n"
    "loop.call_soon(f.set_result, 1)\n"
    "loop.run_until_complete(f)\n"
    "loop.close()\n";

int main(void) {
  PyConfig c; PyConfig_InitIsolatedConfig(&c);
  PyConfig_SetBytesString(&c, &c.home, PYHOME);
  Py_InitializeFromConfig(&c); PyConfig_Clear(&c);
  if (PyRun_SimpleString("import _asyncio") != 0) return 3;
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
