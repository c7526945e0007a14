/* pyfake.c — a program that looks like a CPython fdleak has no frame layout for: it exports
 * Py_Version (PYFAKE_VERSION) and, as configured, what such an interpreter would: _Py_RefTotal
 * (a debug build, PYFAKE_DEBUG) or a _PyRuntime whose debug offsets say free-threaded build
 * (PYFAKE_FREE_THREADED), and nothing else of the C API. fdleak must say once that Python
 * frames are unavailable and why, name the runtime, and still report its leak with native
 * frames (tests/check_pyversion.py). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>

__attribute__((visibility("default"))) const unsigned long Py_Version = PYFAKE_VERSION;
#ifdef PYFAKE_DEBUG
__attribute__((visibility("default"))) long _Py_RefTotal;
#endif
#ifdef PYFAKE_FREE_THREADED /* its value: the debug offsets' free_threaded */
/* _Py_DebugOffsets' head: cookie, version, free_threaded; the rest left zero. */
__attribute__((visibility("default"))) struct {
    char cookie[8];
    uint64_t version, free_threaded;
    char rest[4096];
} _PyRuntime = {{'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'}, PYFAKE_VERSION, PYFAKE_FREE_THREADED, {0}};
#endif

__attribute__((noinline, noipa)) int leak_here(void)
{
    return open("/etc/hostname", O_RDONLY);
}

int main(void)
{
    int fd = leak_here();
    printf("%d\n", fd);
    return fd < 0;
}
