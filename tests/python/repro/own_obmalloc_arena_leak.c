// Minimal reproducer (not built by CMake): CPython 3.12.1 and 3.13.0 keep an
// own-obmalloc subinterpreter's arenas and arena-map nodes after
// Py_EndInterpreter, even when the interpreter ran no code at all: they are
// freed only when no block is still allocated
// (_PyInterpreterState_FinalizeAllocatedBlocks), and some always are.
// LeakSanitizer reports them (obmalloc.c arena_map_get / new_arena); this is
// why tests/lsan_python.supp suppresses exactly those two frames.
//
//   P=/root/.pyenv/versions/3.13.0; M=3.13
//   clang-19 -fsanitize=address -g own_obmalloc_arena_leak.c -DPYHOME="\"$P\"" \
//     -I$P/include/python$M -L$P/lib -lpython$M -Wl,-rpath,$P/lib -o repro && ./repro
#include <Python.h>
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
  Py_EndInterpreter(ts);
  PyEval_RestoreThread(main_ts);
  return Py_FinalizeEx();
}
