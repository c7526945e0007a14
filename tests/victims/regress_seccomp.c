/* regress: leaks /dev/null, then installs a seccomp filter that kills the process on clone,
 * clone3, fork, vfork and execve (a sandboxed worker). Must exit 0; prints "leak <fd>". */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#define KILL_ON(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
__attribute__((noinline)) int leak(void) { return open("/dev/null", O_RDONLY); }
int main(void)
{
    int fd = leak();
    printf("leak %d\n", fd);
    fflush(stdout);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        KILL_ON(__NR_clone),
#ifdef __NR_clone3
        KILL_ON(__NR_clone3),
#endif
#ifdef __NR_fork
        KILL_ON(__NR_fork),
        KILL_ON(__NR_vfork),
#endif
        KILL_ON(__NR_execve),
        KILL_ON(__NR_execveat),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {sizeof f / sizeof *f, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p))
        return perror("seccomp"), 2;
    printf("sandboxed\n");
    return 0;
}
