/* test_python.c — capture_python's pure parts: which files are the app's, the start of a
 * Python site's native frames, and — built once per CPython whose headers are installed
 * (FDL_PY_HEADERS, tests/meson.build) — that version's frame layout against the headers
 * themselves: the fixed tables of 3.10–3.12 offset by offset; for 3.13+ where the debug-offset
 * map reads each field of _Py_DebugOffsets, and the layout built from a _Py_DebugOffsets filled
 * from the headers. */
#ifdef FDL_PY_HEADERS
#define Py_BUILD_CORE 1
#include <Python.h>
#if PY_VERSION_HEX < 0x030b0000
#include <frameobject.h>
#else
#include <internal/pycore_frame.h>
#endif
#include <internal/pycore_runtime.h>
#include <internal/pycore_interp.h>
#if PY_VERSION_HEX >= 0x030d0000
#include <internal/pycore_genobject.h>
#endif
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

/* Outside a CPython process (no interpreter range known) every native frame is kept. */
static void native_keep(void)
{
    uintptr_t pcs[4] = {0x1000, 0x2000, 0x3000, 0x4000};
    CHECK_EQ(fdl_py_native_keep(pcs, 4), 4);
    CHECK_EQ(fdl_py_native_keep(pcs, 0), 0);
}

/* Versions without a layout, pre-releases, free-threaded builds and a bad cookie are refused
 * with a reason; no version's table is made up. */
static void refused(void)
{
    char dbg[1024];
    memset(dbg, 0, sizeof dbg);
    memcpy(dbg, "xdebugpy", 8);
    struct fdl_py_layout l;
    const char *why = 0;
    CHECK(fdl_py_layout_fixed(9) == 0);
    CHECK(fdl_py_layout_fixed(13) == 0);
    CHECK(fdl_py_debug_map(12) == 0);
    CHECK(fdl_py_debug_map(15) == 0);
    unsigned long v315 = 0x030f00f0;
    memcpy(dbg + 8, &v315, sizeof v315);
    CHECK_EQ(fdl_py_layout_from_debug(dbg, sizeof dbg, v315, &l, &why), -1);
    CHECK_STR(why, "no frame layout known for it");
    unsigned long v313 = 0x030d00f0, v313a = 0x030d00a1, v314 = 0x030e00f0;
    memcpy(dbg + 8, &v313, sizeof v313);
    CHECK_EQ(fdl_py_layout_from_debug(dbg, sizeof dbg, v313a, &l, &why), -1);
    CHECK_STR(why, "a pre-release");
    CHECK_EQ(fdl_py_layout_from_debug(dbg, sizeof dbg, v314, &l, &why), -1);
    CHECK_STR(why, "its debug offsets are for another version");
    CHECK_EQ(fdl_py_layout_from_debug(dbg, 100, v313, &l, &why), -1);
    CHECK_STR(why, "its debug offsets are missing");
    dbg[16] = 1; /* free_threaded */
    CHECK_EQ(fdl_py_layout_from_debug(dbg, sizeof dbg, v313, &l, &why), -1);
    CHECK_STR(why, "free-threaded build");
    dbg[16] = 0; /* all offsets and sizes 0: a field with no room in its struct */
    CHECK_EQ(fdl_py_layout_from_debug(dbg, sizeof dbg, v313, &l, &why), -1);
    CHECK_STR(why, "its debug offsets are out of range");
    dbg[0] = 'X';
    CHECK_EQ(fdl_py_layout_from_debug(dbg, sizeof dbg, v313, &l, &why), -1);
    CHECK_STR(why, "its debug offsets are missing");
}

#ifdef FDL_PY_HEADERS
/* The string state bits the walker decodes: kind 2..4, compact 5, ascii 6 on every version;
 * ready 7 until 3.11 (from 3.12 bit 7 is statically_allocated, and there is no ready bit). */
static void string_bits(const struct fdl_py_layout *L, unsigned ascii_size, unsigned compact_size)
{
    CHECK_EQ(L->str_length, offsetof(PyASCIIObject, length));
    CHECK_EQ(L->str_state, offsetof(PyASCIIObject, state));
    CHECK_EQ(ascii_size, sizeof(PyASCIIObject));
    CHECK_EQ(compact_size, sizeof(PyCompactUnicodeObject));
    PyASCIIObject s;
    memset(&s, 0, sizeof s);
    s.state.kind = PyUnicode_2BYTE_KIND;
    s.state.compact = 1;
    unsigned bits;
    memcpy(&bits, (char *)&s + L->str_state, sizeof bits);
    CHECK_EQ(bits >> 2 & 7, 2);
    CHECK_EQ(bits >> 5 & 1, 1);
    CHECK_EQ(bits >> 6 & 1, 0);
    CHECK_EQ(bits >> 7 & 1, 0);
    s.state.ascii = 1;
    memcpy(&bits, (char *)&s + L->str_state, sizeof bits);
    CHECK_EQ(bits >> 6 & 1, 1);
#if PY_VERSION_HEX < 0x030c0000
    CHECK_EQ(L->str_ready_bit, 7);
    s.state.ready = 1;
    memcpy(&bits, (char *)&s + L->str_state, sizeof bits);
    CHECK_EQ(bits >> 7 & 1, 1);
#else
    CHECK_EQ(L->str_ready_bit, -1);
#endif
}

static void common(const struct fdl_py_layout *L)
{
    CHECK_EQ(L->minor, PY_MINOR_VERSION);
    CHECK_EQ(L->ob_type, offsetof(PyObject, ob_type));
    CHECK_EQ(L->var_size, offsetof(PyVarObject, ob_size));
    CHECK_EQ(L->bytes_data, offsetof(PyBytesObject, ob_sval));
    CHECK_EQ(L->co_filename, offsetof(PyCodeObject, co_filename));
    CHECK_EQ(L->co_linetable, offsetof(PyCodeObject, co_linetable));
    CHECK_EQ(L->co_firstlineno, offsetof(PyCodeObject, co_firstlineno));
    CHECK_EQ(L->rt_finalizing, offsetof(_PyRuntimeState, _finalizing));
    CHECK_EQ(L->rt_mutex, offsetof(_PyRuntimeState, interpreters.mutex));
    CHECK_EQ(L->rt_head, offsetof(_PyRuntimeState, interpreters.head));
    string_bits(L, L->str_ascii_data, L->str_compact_data);
#if PY_VERSION_HEX < 0x030b0000
    CHECK_EQ(L->chain, FDL_PY_CHAIN_FRAMEOBJ);
    CHECK_EQ(L->ts_frame, offsetof(PyThreadState, frame));
    CHECK_EQ(L->fr_previous, offsetof(PyFrameObject, f_back));
    CHECK_EQ(L->fr_code, offsetof(PyFrameObject, f_code));
    CHECK_EQ(L->fr_pos, offsetof(PyFrameObject, f_lasti));
    CHECK_EQ(sizeof(((PyFrameObject *)0)->f_lasti), sizeof(int));
    CHECK_EQ(L->fr_gen, offsetof(PyFrameObject, f_gen));
    CHECK_EQ(L->co_qualname, offsetof(PyCodeObject, co_name)); /* 3.10 has no co_qualname */
    CHECK_EQ(L->gen_code, offsetof(PyGenObject, gi_code));
    CHECK_EQ(L->gen_code, offsetof(PyCoroObject, cr_code));
    CHECK_EQ(L->co_firsttraceable, 0);
    CHECK_EQ(L->owner_skip, -1);
#else
    CHECK_EQ(L->co_qualname, offsetof(PyCodeObject, co_qualname));
    CHECK_EQ(L->co_firsttraceable, offsetof(PyCodeObject, _co_firsttraceable));
    CHECK_EQ(L->co_code, offsetof(PyCodeObject, co_code_adaptive));
    CHECK_EQ(L->fr_previous, offsetof(_PyInterpreterFrame, previous));
    CHECK_EQ(L->fr_owner, offsetof(_PyInterpreterFrame, owner));
    CHECK_EQ(sizeof(((_PyInterpreterFrame *)0)->owner), 1);
    CHECK_EQ(L->owned_by_generator, FRAME_OWNED_BY_GENERATOR);
    CHECK_EQ(L->gen_iframe, offsetof(PyGenObject, gi_iframe));
    CHECK_EQ(L->gen_iframe, offsetof(PyCoroObject, cr_iframe));
#endif
#if PY_VERSION_HEX >= 0x030b0000 && PY_VERSION_HEX < 0x030d0000
    CHECK_EQ(L->chain, FDL_PY_CHAIN_CFRAME);
    CHECK_EQ(L->ts_frame, offsetof(PyThreadState, cframe));
    CHECK_EQ(L->cf_current, offsetof(_PyCFrame, current_frame));
    CHECK_EQ(L->fr_code, offsetof(_PyInterpreterFrame, f_code));
    CHECK_EQ(L->fr_pos, offsetof(_PyInterpreterFrame, prev_instr));
#endif
#if PY_VERSION_HEX >= 0x030c0000
    CHECK_EQ(L->owner_skip, FRAME_OWNED_BY_CSTACK); /* the first owner that is not the program's */
    CHECK(FRAME_OWNED_BY_CSTACK > FRAME_OWNED_BY_THREAD && FRAME_OWNED_BY_CSTACK > FRAME_OWNED_BY_GENERATOR &&
          FRAME_OWNED_BY_CSTACK > FRAME_OWNED_BY_FRAME_OBJECT);
#elif PY_VERSION_HEX >= 0x030b0000
    CHECK_EQ(L->owner_skip, -1);
#endif
#if PY_VERSION_HEX < 0x030d0000
    CHECK_EQ(L->lock, FDL_PY_LOCK_PYTHREAD);
    CHECK_EQ(sizeof(((_PyRuntimeState *)0)->interpreters.mutex), sizeof(void *));
#else
    CHECK_EQ(L->chain, FDL_PY_CHAIN_TSTATE);
    CHECK_EQ(L->lock, FDL_PY_LOCK_PYMUTEX);
    CHECK_EQ(sizeof(((_PyRuntimeState *)0)->interpreters.mutex), 1);
    CHECK_EQ(L->ts_frame, offsetof(PyThreadState, current_frame));
    CHECK_EQ(L->fr_code, offsetof(_PyInterpreterFrame, f_executable));
    CHECK_EQ(L->fr_pos, offsetof(_PyInterpreterFrame, instr_ptr));
    CHECK_EQ(L->code_tag, 0);
#endif
}

#if PY_VERSION_HEX >= 0x030d0000
/* The map's positions are _Py_DebugOffsets' own, group sizes included; then a _Py_DebugOffsets
 * filled from the headers (as CPython's _PyRuntimeState_INIT fills it) gives the layout. */
static void debug_offsets(void)
{
    const struct fdl_py_debug_map *m = fdl_py_debug_map(PY_MINOR_VERSION);
    CHECK(m != 0);
    if (!m)
        return;
    CHECK(m->verified);
    CHECK_EQ(m->size, sizeof(_Py_DebugOffsets));
    CHECK_EQ(m->free_threaded, offsetof(_Py_DebugOffsets, free_threaded));
#define AT(field, member, size_member)                                     \
    do {                                                                   \
        CHECK_EQ(m->field.at, offsetof(_Py_DebugOffsets, member));         \
        CHECK_EQ(m->field.group, offsetof(_Py_DebugOffsets, size_member)); \
    } while (0)
    AT(rt_finalizing, runtime_state.finalizing, runtime_state.size);
    AT(rt_head, runtime_state.interpreters_head, runtime_state.size);
    AT(ts_current_frame, thread_state.current_frame, thread_state.size);
    AT(fr_previous, interpreter_frame.previous, interpreter_frame.size);
    AT(fr_executable, interpreter_frame.executable, interpreter_frame.size);
    AT(fr_instr_ptr, interpreter_frame.instr_ptr, interpreter_frame.size);
    AT(fr_owner, interpreter_frame.owner, interpreter_frame.size);
    AT(co_filename, code_object.filename, code_object.size);
    AT(co_qualname, code_object.qualname, code_object.size);
    AT(co_linetable, code_object.linetable, code_object.size);
    AT(co_firstlineno, code_object.firstlineno, code_object.size);
    AT(co_code_adaptive, code_object.co_code_adaptive, code_object.size);
    AT(ob_type, pyobject.ob_type, pyobject.size);
    AT(bytes_ob_size, bytes_object.ob_size, bytes_object.size);
    AT(bytes_ob_sval, bytes_object.ob_sval, bytes_object.size);
    AT(str_state, unicode_object.state, unicode_object.size);
    AT(str_length, unicode_object.length, unicode_object.size);
    AT(str_asciiobject_size, unicode_object.asciiobject_size, unicode_object.size);
#undef AT
    /* what the offsets lack */
    CHECK_EQ(m->gen_iframe.at, 0);
    CHECK_EQ(m->gen_iframe_fixed, offsetof(PyGenObject, gi_iframe));
    CHECK_EQ(m->owned_by_generator, FRAME_OWNED_BY_GENERATOR);
    CHECK_EQ(m->owner_skip, FRAME_OWNED_BY_CSTACK);
    CHECK_EQ(offsetof(_PyRuntimeState, interpreters.head) - offsetof(_PyRuntimeState, interpreters.mutex),
             m->mutex_before_head);
    CHECK_EQ(offsetof(PyCodeObject, co_code_adaptive) - offsetof(PyCodeObject, _co_firsttraceable),
             m->firsttraceable_before_code);

    _Py_DebugOffsets d;
    memset(&d, 0, sizeof d);
    memcpy(d.cookie, "xdebugpy", 8);
    d.version = PY_VERSION_HEX;
    d.runtime_state.size = sizeof(_PyRuntimeState);
    d.runtime_state.finalizing = offsetof(_PyRuntimeState, _finalizing);
    d.runtime_state.interpreters_head = offsetof(_PyRuntimeState, interpreters.head);
    d.thread_state.size = sizeof(PyThreadState);
    d.thread_state.current_frame = offsetof(PyThreadState, current_frame);
    d.interpreter_frame.size = sizeof(_PyInterpreterFrame);
    d.interpreter_frame.previous = offsetof(_PyInterpreterFrame, previous);
    d.interpreter_frame.executable = offsetof(_PyInterpreterFrame, f_executable);
    d.interpreter_frame.instr_ptr = offsetof(_PyInterpreterFrame, instr_ptr);
    d.interpreter_frame.owner = offsetof(_PyInterpreterFrame, owner);
    d.code_object.size = sizeof(PyCodeObject);
    d.code_object.filename = offsetof(PyCodeObject, co_filename);
    d.code_object.qualname = offsetof(PyCodeObject, co_qualname);
    d.code_object.linetable = offsetof(PyCodeObject, co_linetable);
    d.code_object.firstlineno = offsetof(PyCodeObject, co_firstlineno);
    d.code_object.co_code_adaptive = offsetof(PyCodeObject, co_code_adaptive);
    d.pyobject.size = sizeof(PyObject);
    d.pyobject.ob_type = offsetof(PyObject, ob_type);
    d.bytes_object.size = sizeof(PyBytesObject);
    d.bytes_object.ob_size = offsetof(PyBytesObject, ob_base.ob_size);
    d.bytes_object.ob_sval = offsetof(PyBytesObject, ob_sval);
    d.unicode_object.size = sizeof(PyUnicodeObject);
    d.unicode_object.state = offsetof(PyASCIIObject, state);
    d.unicode_object.length = offsetof(PyASCIIObject, length);
    d.unicode_object.asciiobject_size = sizeof(PyASCIIObject);
    struct fdl_py_layout l;
    const char *why = "";
    CHECK_EQ(fdl_py_layout_from_debug(&d, sizeof d, PY_VERSION_HEX, &l, &why), 0);
    CHECK_STR(why, "");
    common(&l);
}
#endif
#endif

int main(void)
{
    RUN(library_files);
    RUN(native_keep);
    RUN(refused);
#ifdef FDL_PY_HEADERS
    printf("layout of CPython %s, from its headers\n", PY_VERSION);
#if PY_VERSION_HEX < 0x030d0000
    const struct fdl_py_layout *L = fdl_py_layout_fixed(PY_MINOR_VERSION);
    CHECK(L != 0);
    if (L)
        common(L);
#else
    RUN(debug_offsets);
#endif
#else
    printf("skip layout (no CPython headers given)\n");
#endif
    printf("%d checks, %d failures\n", unit_checks, unit_failures);
    return unit_failures != 0;
}
