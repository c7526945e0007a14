/* pyfake.c — a program that looks like a CPython fdleak has no frame layout for: it exports
 * Py_Version (PYFAKE_VERSION; built once as 3.12 and once as a 3.11 debug build, which also
 * exports _Py_RefTotal) and nothing else of the C API. fdleak must say once that Python frames
 * are unavailable, name the runtime, and still report its leak with native frames
 * (tests/check_pyversion.py). */
#include <fcntl.h>
#include <stdio.h>

__attribute__((visibility("default"))) const unsigned long Py_Version = PYFAKE_VERSION;
#ifdef PYFAKE_DEBUG
__attribute__((visibility("default"))) long _Py_RefTotal;
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
