/* test_suppress.c — suppression rules: the glob, parsing (bad lines named and skipped), and
 * matching on kind, description, native frames (named through the symbolizer) and Python
 * frames. */
#include "capture_python.h"
#include "sites.h"
#include "suppress.h"
#include "symbolize.h"
#include "unit.h"
#include "util.h"

#include <stdint.h>
#include <unistd.h>

static void test_glob(void)
{
    CHECK(fdl_glob("*", ""));
    CHECK(fdl_glob("lib*.so*", "libnss_sss.so.2"));
    CHECK(fdl_glob("*/asyncio/*", "/usr/lib/python3.11/asyncio/base_events.py"));
    CHECK(fdl_glob("a?c", "abc"));
    CHECK(!fdl_glob("a?c", "ac"));
    CHECK(!fdl_glob("*.py", "x.pyc"));
    CHECK(fdl_glob("*a*b*c", "xxaybzzc"));
    CHECK(!fdl_glob("abc", "abcd"));
}

static void test_parse(void)
{
    fdl_suppress_clear();
    int p[2];
    CHECK_EQ(pipe(p), 0);
    const char text[] = "# a comment\n"
                        "\n"
                        "kind=socket desc=*:6379   # redis, accepted\n"
                        "colour=blue\n"              /* unknown field */
                        "kind=\n"                    /* empty pattern */
                        "kind=file kind=pipe\n"      /* twice */
                        "python-file=*/pool.py python-function=connect\n";
    CHECK_EQ(fdl_suppress_parse(text, sizeof text - 1, "rules.txt", p[1]), 3);
    close(p[1]);
    char msg[2048] = {0};
    ssize_t n = read(p[0], msg, sizeof msg - 1);
    close(p[0]);
    CHECK(n > 0);
    CHECK_EQ(unit_lines(msg), 3);
    CHECK(strstr(msg, "rules.txt:4:") != NULL);
    CHECK(strstr(msg, "rules.txt:5:") != NULL);
    CHECK(strstr(msg, "rules.txt:6:") != NULL);
    CHECK(fdl_suppressed("socket", "tcp 127.0.0.1:5000 -> 127.0.0.1:6379", 0, 0, 0));
    CHECK(!fdl_suppressed("socket", "tcp 127.0.0.1:5000 -> 127.0.0.1:6380", 0, 0, 0));
    CHECK(!fdl_suppressed("file", "/x:6379", 0, 0, 0));
}

static void test_quotes(void)
{
    fdl_suppress_clear();
    const char text[] = "kind=socket desc=\"*-> 10.0.0.5:6379\"  # a pattern with spaces (and # inside quotes below)\n"
                        "desc=\"/tmp/a # b\"\n"
                        "desc=\"unclosed\n";
    CHECK_EQ(fdl_suppress_parse(text, sizeof text - 1, "q", -1), 1);
    CHECK(fdl_suppressed("socket", "tcp 10.0.0.2:4000 -> 10.0.0.5:6379", 0, 0, 0));
    CHECK(!fdl_suppressed("socket", "tcp 10.0.0.2:4000 -> 10.0.0.6:6379", 0, 0, 0));
    CHECK(fdl_suppressed("file", "/tmp/a # b", 0, 0, 0));
    fdl_suppress_clear();
}

/* killed-by: only in the exit report of a process a signal ended (the default rule for a
 * server's listening socket). */
static void test_killed_by(void)
{
    fdl_suppress_clear();
    const char text[] = "kind=socket desc=\"* listen *\" killed-by=*\n"
                        "desc=/tmp/x killed-by=SIGINT\n";
    CHECK_EQ(fdl_suppress_parse(text, sizeof text - 1, "k", -1), 0);
    CHECK(!fdl_suppressed("socket", "tcp listen 127.0.0.1:8000", 0, 0, 0)); /* a normal exit */
    CHECK(fdl_suppressed("socket", "tcp listen 127.0.0.1:8000", "SIGTERM", 0, 0));
    CHECK(!fdl_suppressed("socket", "tcp 127.0.0.1:1 -> 127.0.0.1:2", "SIGTERM", 0, 0));
    CHECK(fdl_suppressed("file", "/tmp/x", "SIGINT", 0, 0));
    CHECK(!fdl_suppressed("file", "/tmp/x", "SIGTERM", 0, 0));
    fdl_suppress_clear();
}

__attribute__((noinline)) static int marker_function(void) { return 42; }

static void test_native_and_python(void)
{
    fdl_suppress_clear();
    const char text[] = "native-function=marker_function kind=pipe\n"
                        "python-file=*/pool.py python-function=Pool.connect\n";
    CHECK_EQ(fdl_suppress_parse(text, sizeof text - 1, "t", -1), 0);
    uintptr_t pc = (uintptr_t)&marker_function + 1;
    struct fdl_site *site = fdl_site_intern(&pc, 1, 0);
    CHECK(site != NULL);
    struct fdl_region rg = {0};
    struct fdl_symbolizer *sym = fdl_sym_new(&rg);
    fdl_sym_add(sym, pc);
    CHECK(fdl_suppressed("pipe", "pipe:[1]", 0, site, sym));
    CHECK(!fdl_suppressed("file", "/etc/x", 0, site, sym)); /* kind differs */
    fdl_sym_free(sym);
    fdl_region_free(&rg);

    /* A site with Python frames: both terms must hold on one frame. */
    uintptr_t key[2] = {0x1234, 0x5678};
    struct fdl_site *ps = fdl_site_intern(key, 0, 2);
    static _Alignas(struct fdl_pystack) char mem[sizeof(struct fdl_pystack) + 2 * sizeof(struct fdl_pyframe)];
    struct fdl_pystack *py = (struct fdl_pystack *)mem;
    py->n = 2;
    py->app = 1;
    py->own = true;
    py->f[0] = (struct fdl_pyframe){"/srv/app/pool.py", "Pool.close", 10, 0, 0};
    py->f[1] = (struct fdl_pyframe){"/srv/app/pool.py", "Pool.connect", 20, 0, 0};
    __atomic_store_n(&ps->py, py, __ATOMIC_RELEASE);
    CHECK(fdl_suppressed("socket", "tcp", 0, ps, 0));
    py->f[1].file = "/srv/app/other.py";
    CHECK(!fdl_suppressed("socket", "tcp", 0, ps, 0)); /* file and function now on different frames */
    fdl_suppress_clear();
}

/* python-stack: the innermost frames in order, not any frame anywhere (uvloop's signal
 * socketpair straight under Runner.run, not the program's socketpair deeper in its task). */
static void test_python_stack(void)
{
    fdl_suppress_clear();
    const char text[] = "python-stack=\"*/socket.py:socketpair */runners.py:Runner.run\" killed-by=*\n"
                        "python-stack=nocolon\n"         /* not FILE:FUNCTION */
                        "python-stack=\"a.py:f  b\"\n"; /* the second term has no ':' */
    CHECK_EQ(fdl_suppress_parse(text, sizeof text - 1, "s", -1), 2);
    uintptr_t key[2] = {0x4321, 0x8765};
    struct fdl_site *ps = fdl_site_intern(key, 0, 2);
    static _Alignas(struct fdl_pystack) char mem[sizeof(struct fdl_pystack) + 3 * sizeof(struct fdl_pyframe)];
    struct fdl_pystack *py = (struct fdl_pystack *)mem;
    py->n = 2;
    py->app = 1;
    py->own = true;
    py->f[0] = (struct fdl_pyframe){"/usr/lib/python3.11/socket.py", "socketpair", 608, 0, 0};
    py->f[1] = (struct fdl_pyframe){"/usr/lib/python3.11/asyncio/runners.py", "Runner.run", 118, 0, 0};
    __atomic_store_n(&ps->py, py, __ATOMIC_RELEASE);
    CHECK(fdl_suppressed("socket", "unix", "SIGTERM", ps, 0));
    CHECK(!fdl_suppressed("socket", "unix", 0, ps, 0)); /* killed-by: a normal exit */
    /* The program's socketpair, called from its own function under Runner.run: not matched. */
    py->n = 3;
    py->f[2] = py->f[1];
    py->f[1] = (struct fdl_pyframe){"/srv/app/main.py", "main", 7, 0, 0};
    CHECK(!fdl_suppressed("socket", "unix", "SIGTERM", ps, 0));
    py->n = 1; /* fewer frames than terms */
    CHECK(!fdl_suppressed("socket", "unix", "SIGTERM", ps, 0));
    fdl_suppress_clear();
}

int main(void)
{
    RUN(test_glob);
    RUN(test_parse);
    RUN(test_quotes);
    RUN(test_killed_by);
    RUN(test_native_and_python);
    RUN(test_python_stack);
    printf("%d checks, %d failures\n", unit_checks, unit_failures);
    return unit_failures != 0;
}
