/* regress: fd 0 reused. `socket`: close(0), then a socket lands on fd 0 and is leaked (reported).
 * `devnull`: close(0), then /dev/null reopened on fd 0 (what daemons do), not a leak; a real
 * leak elsewhere keeps the report non-empty. Checked by check_leaks.py (exact leak set). */
#include "victim.h"

VICTIM_FN int make_socket0(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd == 0);
    V_LEAK(fd, "socket", "-", "socket", 0);
    return fd;
}

VICTIM_FN int reopen_null0(void)
{
    int fd = open("/dev/null", O_RDONLY);
    V_CHECK(fd == 0);
    return fd;
}

VICTIM_FN int leak_file(void)
{
    char *p = v_make_file("std0-leak");
    int fd = open(p, O_RDONLY);
    V_CHECK(fd > 2);
    V_LEAK(fd, "file", "std0-leak", "open", 0);
    return fd;
}

int main(int argc, char **argv)
{
    v_begin();
    V_CHECK(argc == 2);
    V_CHECK(close(0) == 0);
    if (!strcmp(argv[1], "socket"))
        make_socket0();
    else {
        reopen_null0();
        leak_file();
    }
    return v_finish();
}
