/* regress: RLIMIT_NOFILE 64 (threshold 80% = 51); a thread with a 16 KiB stack opens until past
 * the threshold, so the threshold report runs on that small stack. Must exit 0. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
static void *worker(void *a)
{
    (void)a;
    for (int i = 0; i < 56; i++)
        if (open("/dev/null", O_RDONLY) < 0)
            return (void *)1;
    return 0;
}
int main(void)
{
    struct rlimit rl = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &rl))
        return perror("setrlimit"), 2;
    pthread_attr_t at;
    pthread_attr_init(&at);
    if (pthread_attr_setstacksize(&at, 16 * 1024))
        return printf("16 KiB stacks not allowed\n"), 2;
    pthread_t t;
    void *r = 0;
    if (pthread_create(&t, &at, worker, 0))
        return perror("pthread_create"), 2;
    pthread_join(t, &r);
    printf("worker with a 16 KiB stack %s\n", r ? "failed to open" : "done");
    return r ? 1 : 0;
}
