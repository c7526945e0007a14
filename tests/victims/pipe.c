/* pipe family: pipe, pipe2. */
#include "victim.h"

VICTIM_FN void leak_pipe(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
}

VICTIM_FN void leak_pipe2_cloexec(void)
{
    int p[2];
    V_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe2", 1);
    V_LEAK(p[1], "pipe", "pipe:", "pipe2", 1);
}

/* Only one end leaks: the other is closed correctly. */
VICTIM_FN void leak_pipe2_read_end(void)
{
    int p[2];
    V_CHECK(pipe2(p, 0) == 0);
    V_CHECK(close(p[1]) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe2", 0);
}

VICTIM_FN void leak_pipe_write_end(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_CHECK(close(p[0]) == 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
}

VICTIM_FN void pipes_correctly(void)
{
    int a[2], b[2], c[2];
    V_CHECK(pipe(a) == 0);
    V_CHECK(pipe2(b, O_CLOEXEC) == 0);
    if (pipe2(c, O_DIRECT) == 0) /* packet mode; EINVAL on kernels without it */
        V_CHECK(close(c[0]) == 0 && close(c[1]) == 0);
    else
        V_CHECK(errno == EINVAL);
    V_CHECK(write(a[1], "x", 1) == 1);
    char ch;
    V_CHECK(read(a[0], &ch, 1) == 1);
    V_CHECK(close(a[1]) == 0 && close(a[0]) == 0);
    V_CHECK(close(b[0]) == 0 && close(b[1]) == 0);
}

int main(void)
{
    v_begin();
    pipes_correctly();
    leak_pipe();
    leak_pipe2_read_end();
    leak_pipe2_cloexec();
    leak_pipe_write_end();
    pipes_correctly();
    return v_finish();
}
