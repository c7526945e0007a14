/* fork: a child starts with a copy of the parent's table. What it got from the parent is listed
 * under `inherited` in the child's own report, with the parent's creation site (present in the
 * child's sites[]); what the child creates itself is its own leak. Each process writes its own
 * report. A grandchild sees both generations as inherited, each with its creator's site. Then
 * forks while another thread keeps creating and releasing (locks consistent across fork): every
 * child must finish, with no leak of its own. The parent's report lists only the parent's leaks. */
#include "victim.h"

#include <sys/socket.h>

#define STORM_CHILDREN 20

static char *path;
static volatile int stop;

VICTIM_FN int leak_file(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "fork.dat", "open", 0);
    return fd;
}

VICTIM_FN int leak_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "-", "socket", 0);
    return fd;
}

/* Closed by the parent after the fork; the child keeps its copy open. */
VICTIM_FN int open_shared(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    return fd;
}

/* Open in the parent, closed by the child (a correct close, not an error). */
VICTIM_FN int leak_closed_by_child(void)
{
    int p[2];
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
    return p[0];
}

VICTIM_FN int child_leak_file(void)
{
    int fd = open(path, O_RDWR);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "fork.dat", "open", 0);
    return fd;
}

VICTIM_FN int grandchild_leak_dup(int a)
{
    int fd = dup(a);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "fork.dat", "dup", 0);
    return fd;
}

/* Made by the parent after the fork: only the parent has it. */
VICTIM_FN int leak_after_fork(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "socket", "-", "socket", 0);
    return fd;
}

static void grandchild(int a, int s, int shared, int own)
{
    v_child_begin();
    v_decl(NULL, "report");
    v_decl(NULL, "inherited %d file fork.dat site=leak_file via=open cloexec=0", a);
    v_decl(NULL, "inherited %d socket - site=leak_socket via=socket", s);
    v_decl(NULL, "inherited %d file fork.dat site=open_shared via=open cloexec=1", shared);
    v_decl(NULL, "inherited %d file fork.dat site=child_leak_file via=open", own);
    grandchild_leak_dup(a);
    exit(v_finish());
}

static void child(int a, int s, int shared, int given)
{
    v_child_begin();
    v_decl(NULL, "report");
    v_decl(NULL, "inherited %d file fork.dat site=leak_file via=open cloexec=0", a);
    v_decl(NULL, "inherited %d socket - site=leak_socket via=socket cloexec=0", s);
    v_decl(NULL, "inherited %d file fork.dat site=open_shared via=open cloexec=1", shared);
    V_CHECK(close(given) == 0); /* the parent's; the child may close its copy */
    int own = child_leak_file();
    pid_t g = v_fork();
    if (g == 0)
        grandchild(a, s, shared, own);
    v_wait_ok(g, 20);
    exit(v_finish());
}

static void *churn(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        V_CHECK(fd >= 0);
        V_CHECK(close(fd) == 0);
    }
    return NULL;
}

/* Forks while another thread is inside fdleak's wrappers. Each child creates and releases
 * something (its table must be usable) and exits normally; it has no leak of its own. */
static void fork_storm(void)
{
    pthread_t t;
    V_CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
    usleep(2000);
    pid_t kids[STORM_CHILDREN];
    for (int i = 0; i < STORM_CHILDREN; i++) {
        kids[i] = v_fork();
        if (kids[i] == 0) {
            v_child_begin();
            v_decl(NULL, "report");
            int fd = open(path, O_RDONLY);
            if (fd < 0 || close(fd) != 0)
                _exit(3);
            exit(v_finish());
        }
        usleep(500);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    V_CHECK(pthread_join(t, NULL) == 0);
    for (int i = 0; i < STORM_CHILDREN; i++)
        v_wait_ok(kids[i], 20);
}

int main(void)
{
    v_begin();
    path = v_make_file("fork.dat");
    int a = leak_file();
    int s = leak_socket();
    int shared = open_shared();
    int given = leak_closed_by_child();
    pid_t c = v_fork();
    if (c == 0)
        child(a, s, shared, given);
    V_CHECK(close(shared) == 0);
    leak_after_fork();
    v_wait_ok(c, 30);
    fork_storm();
    return v_finish();
}
