/* early_ctor: linked against libearly.so, whose constructor leaks before fdleak initializes
 * (see libearly.c); the executable's own constructor and main() leak too. */
#include "victim.h"

#include <limits.h>

int early_file_fd(void);
int early_socket_fd(void);

VICTIM_FN void leak_from_exe_ctor(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_CHECK(close(p[1]) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
}

__attribute__((constructor)) static void exe_ctor(void)
{
    leak_from_exe_ctor();
}

VICTIM_FN void leak_in_main(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "early_ctor", "open", 1);
}

int main(void)
{
    v_begin();
    /* libearly printed its own lines; register them for the self-check */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    V_CHECK(n > 0);
    exe[n] = '\0';
    V_CHECK(early_file_fd() >= 0 && early_socket_fd() >= 0);
    v_note_leak(early_file_fd(), "file", strrchr(exe, '/') + 1, 0);
    v_note_leak(early_socket_fd(), "socket", "-", 1);
    leak_in_main();
    return v_finish();
}
