/* api_python.c — the public fdleak_py_* calls as a built-in module, `_fdleak`, for the start-up
 * hook (scripts/python/sitecustomize.py): registered in CPython's table of built-in modules
 * before the interpreter starts, so the hook needs no ctypes (whose import alone costs every
 * Python program ~10 million instructions at start-up and puts ctypes in its sys.modules).
 * Only the stable ABI's module and method tables are used, declared here (fdleak is built
 * without CPython's headers and never links against libpython). */
#include "fdleak.h"
#include "trigger.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

/* Stable-ABI layouts (PyObject, PyMethodDef, PyModuleDef) of every default CPython 3 build;
 * Py_TRACE_REFS and free-threaded builds lay PyObject out otherwise and get no module. */
struct py_head {
    intptr_t refcnt;
    void *type;
};
typedef void *(*py_cfunction)(void *self, void *args);
struct py_method {
    const char *name;
    py_cfunction call;
    int flags;
    const char *doc;
};
enum { METH_VARARGS = 1, METH_NOARGS = 4, METH_O = 8, PYTHON_API_VERSION = 1013 };
struct py_module_def {
    struct py_head head; /* PyModuleDef_HEAD_INIT: then m_init, m_index, m_copy */
    void *m_init;
    intptr_t m_index;
    void *m_copy;
    const char *name, *doc;
    intptr_t size;
    struct py_method *methods;
    void *slots, *traverse, *clear, *free;
};

static struct {
    void *(*module_create)(struct py_module_def *, int); /* PyModule_Create2 */
    int (*parse)(void *args, const char *format, ...);   /* PyArg_ParseTuple */
    void *(*build)(const char *format, ...);             /* Py_BuildValue */
} py;

/* Each method runs with the GIL held (a built-in function's call). */
static void *m_selftest(void *self, void *args)
{
    (void)self;
    const char *file, *function;
    int line;
    if (!py.parse(args, "yiy:selftest", &file, &line, &function))
        return 0; /* TypeError set by CPython */
    return py.build("i", fdleak_py_selftest(file, line, function));
}

static void *m_exiting(void *self, void *unused)
{
    (void)self, (void)unused;
    fdleak_py_exiting();
    return py.build("");
}

static void *m_task_created(void *self, void *coro)
{
    (void)self;
    return py.build("i", fdleak_py_task_created(coro));
}

static void *m_task_done(void *self, void *coro)
{
    (void)self;
    fdleak_py_task_done(coro);
    return py.build("");
}

static void *m_task_known(void *self, void *coro)
{
    (void)self;
    return py.build("i", fdleak_py_task_known(coro));
}

static void *m_handoff(void *self, void *args)
{
    (void)self;
    void *obj;
    int kind;
    if (!py.parse(args, "Oi:handoff", &obj, &kind))
        return 0;
    return py.build("i", fdleak_py_handoff(obj, kind));
}

static void *m_run_begin(void *self, void *obj)
{
    (void)self;
    return py.build("i", fdleak_py_run_begin(obj));
}

static void *m_run_end(void *self, void *args)
{
    (void)self;
    void *obj;
    int token;
    if (!py.parse(args, "Oi:run_end", &obj, &token))
        return 0;
    fdleak_py_run_end(obj, token);
    return py.build("");
}

static struct py_method methods[] = {
    {"selftest", m_selftest, METH_VARARGS, "selftest(file: bytes, line, function: bytes) -> 1, 0 or -1"},
    {"exiting", m_exiting, METH_NOARGS, "exiting(): take the exit report now"},
    {"task_created", m_task_created, METH_O, "task_created(coro) -> 1, 0 or -1"},
    {"task_done", m_task_done, METH_O, "task_done(coro)"},
    {"task_known", m_task_known, METH_O, "task_known(coro) -> 1 or 0"},
    {"handoff", m_handoff, METH_VARARGS, "handoff(obj, kind) -> 1, 0 or -1"},
    {"run_begin", m_run_begin, METH_O, "run_begin(obj) -> token (-1: nothing to follow)"},
    {"run_end", m_run_end, METH_VARARGS, "run_end(obj, token)"},
    {0, 0, 0, 0},
};

/* The head's count is one CPython treats as immortal (3.12+) and never brings to zero before. */
static struct py_module_def module = {
    .head = {.refcnt = 0xffffffff},
    .name = "_fdleak",
    .doc = "fdleak's calls for its Python start-up hook",
    .size = -1,
    .methods = methods,
};

static void *init_module(void) { return py.module_create(&module, PYTHON_API_VERSION); }

void fdl_pymodule_register(void)
{
    const char *(*version)(void);
    int (*initialized)(void), (*append)(const char *, void *(*)(void));
    *(void **)&version = dlsym(RTLD_DEFAULT, "Py_GetVersion");
    *(void **)&initialized = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    *(void **)&append = dlsym(RTLD_DEFAULT, "PyImport_AppendInittab");
    *(void **)&py.module_create = dlsym(RTLD_DEFAULT, "PyModule_Create2");
    *(void **)&py.parse = dlsym(RTLD_DEFAULT, "PyArg_ParseTuple");
    *(void **)&py.build = dlsym(RTLD_DEFAULT, "Py_BuildValue");
    if (!version || !initialized || !append || !py.module_create || !py.parse || !py.build)
        return; /* not CPython */
    /* After start-up the table is CPython's own copy (3.12+ would stop the process). */
    if (initialized())
        return;
    const char *v = version();
    if (strncmp(v, "3.", 2) || strstr(v, "free-threading") || dlsym(RTLD_DEFAULT, "_Py_PrintReferences"))
        return; /* not Python 3, or an object header other than the stable ABI's */
    append("_fdleak", init_module);
}
