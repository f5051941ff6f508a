// Minimal reproducer (not built by CMake) of a CPython 3.12.1 bug: when the
// first import of the `_asyncio` C module in the process happens in an
// own-GIL subinterpreter (directly, or through `import asyncio` or
// `import ssl`), Py_FinalizeEx later aborts in the main interpreter with
//   free(): invalid pointer    (_PyTuple_Fini -> maybe_freelist_clear -> _PyObject_Free)
// i.e. a tuple from the subinterpreter's allocator ended up in the main
// interpreter's tuple free list. 3.13.0 runs it cleanly. Importing
// `_asyncio` in the main interpreter first avoids it; fastrt::python::runtime
// does that on 3.12 (see runtime.hpp).
//
//   P=/root/.pyenv/versions/3.12.1
//   gcc py312_asyncio_subinterpreter_crash.c -DPYHOME="\"$P\"" -I$P/include/python3.12 \
//     -L$P/lib -lpython3.12 -Wl,-rpath,$P/lib -lpthread -o repro
//   ./repro            # aborts: free(): invalid pointer
//   ./repro workaround # exits 0
#include <Python.h>
#include <pthread.h>
#include <stdlib.h>

static void* in_subinterpreter(void* arg) {
  (void)arg;
  PyInterpreterConfig config = {0};
  config.allow_threads = 1;
  config.check_multi_interp_extensions = 1;
  config.gil = PyInterpreterConfig_OWN_GIL;
  PyThreadState* state = NULL;
  if (PyStatus_Exception(Py_NewInterpreterFromConfig(&state, &config))) abort();
  if (PyRun_SimpleString("import _asyncio") != 0) abort();
  Py_EndInterpreter(state);
  return NULL;
}

int main(int argc, char** argv) {
  (void)argv;
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  PyConfig_SetBytesString(&config, &config.home, PYHOME);
  Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (argc > 1) PyRun_SimpleString("import _asyncio");  // the workaround
  PyThreadState* main_state = PyEval_SaveThread();
  pthread_t thread;
  pthread_create(&thread, NULL, in_subinterpreter, NULL);
  pthread_join(thread, NULL);
  PyEval_RestoreThread(main_state);
  return Py_FinalizeEx();
}
