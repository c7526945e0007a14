/* test_python.c — capture_python's pure parts: which files are the app's, and (when CPython
 * 3.11's internal headers are installed: Debian libpython3.11-dev) every offset of the layout
 * table against the headers themselves. */
#ifdef FDL_PY_HEADERS
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_runtime.h>
#include <stddef.h>
#endif

#include "capture_python.h"
#include "unit.h"

static void library_files(void)
{
    CHECK(fdl_py_library_file("/usr/lib/python3.11/socket.py"));
    CHECK(fdl_py_library_file("/usr/lib/python3.11/asyncio/base_events.py"));
    CHECK(fdl_py_library_file("/root/.pyenv/versions/3.11.7/lib/python3.11/socket.py"));
    CHECK(fdl_py_library_file("/usr/lib64/python3.12/os.py"));
    CHECK(fdl_py_library_file("/usr/lib/python3/dist-packages/httpx/_client.py"));
    CHECK(fdl_py_library_file("/srv/venv/lib/python3.11/site-packages/redis/client.py"));
    CHECK(fdl_py_library_file("<frozen importlib._bootstrap>"));
    CHECK(!fdl_py_library_file("/srv/bot/handlers/poll.py"));
    CHECK(!fdl_py_library_file("handlers/poll.py"));
    CHECK(!fdl_py_library_file("<string>"));
    CHECK(!fdl_py_library_file("/home/u/lib/python/tools.py"));   /* no version: not the stdlib */
    CHECK(!fdl_py_library_file("/home/u/library/python3.11x/a.py")); /* not …/lib/pythonX.Y/ */
    CHECK(!fdl_py_library_file("/home/u/lib/python3.11.py"));
}

#ifdef FDL_PY_HEADERS
static void layout(void)
{
    const struct fdl_py_layout *L = fdl_py_layout_311();
    CHECK_EQ(PY_MAJOR_VERSION * 100 + PY_MINOR_VERSION, 311);
    CHECK_EQ(L->ob_type, offsetof(PyObject, ob_type));
    CHECK_EQ(L->var_size, offsetof(PyVarObject, ob_size));
    CHECK_EQ(L->ts_cframe, offsetof(PyThreadState, cframe));
    CHECK_EQ(L->cf_current, offsetof(_PyCFrame, current_frame));
    CHECK_EQ(L->fr_code, offsetof(_PyInterpreterFrame, f_code));
    CHECK_EQ(L->fr_previous, offsetof(_PyInterpreterFrame, previous));
    CHECK_EQ(L->fr_prev_instr, offsetof(_PyInterpreterFrame, prev_instr));
    CHECK_EQ(L->fr_owner, offsetof(_PyInterpreterFrame, owner));
    CHECK_EQ(L->owned_by_generator, FRAME_OWNED_BY_GENERATOR);
    CHECK_EQ(L->rt_mutex, offsetof(_PyRuntimeState, interpreters.mutex));
    CHECK_EQ(L->rt_head, offsetof(_PyRuntimeState, interpreters.head));
    CHECK_EQ(L->rt_finalizing, offsetof(_PyRuntimeState, _finalizing));
    CHECK_EQ(L->co_firstlineno, offsetof(PyCodeObject, co_firstlineno));
    CHECK_EQ(L->co_linetable, offsetof(PyCodeObject, co_linetable));
    CHECK_EQ(L->bytes_data, offsetof(PyBytesObject, ob_sval));
    CHECK_EQ(L->co_filename, offsetof(PyCodeObject, co_filename));
    CHECK_EQ(L->co_qualname, offsetof(PyCodeObject, co_qualname));
    CHECK_EQ(L->co_firsttraceable, offsetof(PyCodeObject, _co_firsttraceable));
    CHECK_EQ(L->co_code, offsetof(PyCodeObject, co_code_adaptive));
    CHECK_EQ(L->gen_iframe, offsetof(PyGenObject, gi_iframe));
    CHECK_EQ(L->gen_iframe, offsetof(PyCoroObject, cr_iframe));
    CHECK_EQ(L->str_length, offsetof(PyASCIIObject, length));
    CHECK_EQ(L->str_state, offsetof(PyASCIIObject, state));
    CHECK_EQ(L->str_ascii_data, sizeof(PyASCIIObject));
    CHECK_EQ(L->str_compact_data, sizeof(PyCompactUnicodeObject));
    /* The state bits capture_python.c decodes: kind 2..4, compact 5, ascii 6, ready 7. */
    PyASCIIObject s;
    memset(&s, 0, sizeof s);
    s.state.kind = PyUnicode_2BYTE_KIND;
    s.state.compact = 1;
    s.state.ready = 1;
    unsigned bits;
    memcpy(&bits, (char *)&s + L->str_state, sizeof bits);
    CHECK_EQ(bits >> 2 & 7, 2);
    CHECK_EQ(bits >> 5 & 1, 1);
    CHECK_EQ(bits >> 6 & 1, 0);
    CHECK_EQ(bits >> 7 & 1, 1);
    s.state.ascii = 1;
    memcpy(&bits, (char *)&s + L->str_state, sizeof bits);
    CHECK_EQ(bits >> 6 & 1, 1);
}
#endif

int main(void)
{
    RUN(library_files);
#ifdef FDL_PY_HEADERS
    RUN(layout);
#else
    printf("skip layout (CPython 3.11 internal headers not installed: libpython3.11-dev)\n");
#endif
    printf("%d checks, %d failures\n", unit_checks, unit_failures);
    return unit_failures != 0;
}
