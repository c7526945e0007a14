/* stdio family: fopen, fopen64, fdopen, freopen, freopen64, popen, and fclose/pclose. */
#include "victim.h"

#include <sys/wait.h>

static char *path_a, *path_b, *path_c;

VICTIM_FN FILE *leak_fopen(void)
{
    FILE *f = fopen(path_a, "r");
    V_CHECK(f != NULL);
    V_LEAK(fileno(f), "file", "stdio-a.txt", "fopen", 0);
    return f;
}

VICTIM_FN FILE *leak_fopen_cloexec(void)
{
    FILE *f = fopen(path_b, "re");
    V_CHECK(f != NULL);
    V_LEAK(fileno(f), "file", "stdio-b.txt", "fopen", 1);
    return f;
}

VICTIM_FN FILE *leak_fopen64(void)
{
    FILE *f = fopen64(path_c, "a+");
    V_CHECK(f != NULL);
    V_LEAK(fileno(f), "file", "stdio-c.txt", "fopen64", 0);
    return f;
}

/* fdopen wraps a descriptor someone else created: the leak's site is the open() call. */
VICTIM_FN int open_for_fdopen(void)
{
    int fd = open(path_b, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "stdio-b.txt", NULL, 0);
    return fd;
}

VICTIM_FN FILE *leak_fdopen(int fd)
{
    FILE *f = fdopen(fd, "r");
    V_CHECK(f != NULL && fileno(f) == fd);
    return f;
}

VICTIM_FN FILE *fopen_to_be_reopened(void)
{
    FILE *f = fopen(path_a, "r");
    V_CHECK(f != NULL);
    return f;
}

/* freopen closes the stream's descriptor and opens another file on it: the site moves here. */
VICTIM_FN FILE *leak_freopen(FILE *f)
{
    FILE *g = freopen(path_c, "r", f);
    V_CHECK(g != NULL);
    V_LEAK(fileno(g), "file", "stdio-c.txt", "freopen", 0);
    return g;
}

VICTIM_FN FILE *leak_freopen64(FILE *f)
{
    FILE *g = freopen64(path_b, "re", f);
    V_CHECK(g != NULL);
    V_LEAK(fileno(g), "file", "stdio-b.txt", "freopen64", 1);
    return g;
}

VICTIM_FN FILE *leak_popen_read(void)
{
    FILE *f = popen("exit 0", "re");
    V_CHECK(f != NULL);
    V_LEAK(fileno(f), "pipe", "pipe:", "popen", 1);
    return f;
}

VICTIM_FN FILE *leak_popen_write(void)
{
    FILE *f = popen("cat >/dev/null", "w");
    V_CHECK(f != NULL);
    V_LEAK(fileno(f), "pipe", "pipe:", "popen", 0);
    return f;
}

VICTIM_FN void stdio_correctly(void)
{
    FILE *a = fopen(path_a, "r");
    FILE *b = fopen64(path_b, "r");
    V_CHECK(a != NULL && b != NULL);
    int fd = open(path_c, O_RDONLY);
    V_CHECK(fd >= 0);
    FILE *c = fdopen(fd, "r");
    V_CHECK(c != NULL);
    FILE *d = fopen(path_a, "r");
    V_CHECK(d != NULL);
    d = freopen(path_b, "r", d);
    V_CHECK(d != NULL);
    d = freopen64(path_c, "r", d);
    V_CHECK(d != NULL);
    FILE *p = popen("echo hello", "r");
    V_CHECK(p != NULL);
    char line[64];
    V_CHECK(fgets(line, sizeof line, p) != NULL && !strcmp(line, "hello\n"));
    int st = pclose(p);
    V_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    FILE *w = popen("cat >/dev/null", "we");
    V_CHECK(w != NULL);
    V_CHECK(fputs("data\n", w) >= 0);
    st = pclose(w);
    V_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    V_CHECK(fclose(d) == 0);
    V_CHECK(fclose(c) == 0);
    V_CHECK(fclose(b) == 0);
    V_CHECK(fclose(a) == 0);
}

int main(void)
{
    v_begin();
    fflush(stdout); /* nothing buffered may be duplicated into children */
    path_a = v_make_file("stdio-a.txt");
    path_b = v_make_file("stdio-b.txt");
    path_c = v_make_file("stdio-c.txt");

    stdio_correctly();
    leak_fopen();
    leak_fopen_cloexec();
    leak_fopen64();
    leak_fdopen(open_for_fdopen());
    leak_freopen(fopen_to_be_reopened());
    leak_freopen64(fopen_to_be_reopened());
    leak_popen_read();
    leak_popen_write();
    stdio_correctly();
    return v_finish();
}
