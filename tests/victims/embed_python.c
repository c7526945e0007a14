/* embed_python: a C program that embeds CPython, runs a script that opens and closes a file,
 * finalizes the interpreter, then carries on and leaks a descriptor of its own. CPython leaves
 * its finalizing flag set after Py_FinalizeEx; that must not make fdleak take the host's later
 * descriptors for a daemon thread's at shutdown and leave them out of the report. */
#include <Python.h>

#include "victim.h"

VICTIM_FN void leak_after_finalize(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "/etc/hostname", "open64", 0); /* Python.h sets _FILE_OFFSET_BITS=64 */
}

int main(void)
{
    Py_InitializeEx(0);
    V_CHECK(PyRun_SimpleString("import os\n"
                               "with open('/etc/hostname') as f: f.read()\n") == 0);
    V_CHECK(Py_FinalizeEx() == 0);
    leak_after_finalize();
    return v_finish();
}
