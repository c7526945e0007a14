/* exec_target: the program the exec victims run. It prints its pid, checks that the descriptors
 * it was told about are open (--open 3,4,..) or closed (--closed 5,..) and exits 0, or 3 when a
 * check fails. It creates nothing; under fdleak (LD_PRELOAD is inherited) its exit report lists
 * what crossed the exec as inherited. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_list(const char *list, int want_open)
{
    int bad = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int fd = atoi(t);
        int open = fcntl(fd, F_GETFD) >= 0;
        if (open != want_open) {
            fprintf(stderr, "exec_target: fd %d is %s, expected %s\n", fd,
                    open ? "open" : "closed", want_open ? "open" : "closed");
            bad = 1;
        }
    }
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0;
    printf("exec-target pid %ld\n", (long)getpid());
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--open") && i + 1 < argc)
            bad |= check_list(argv[++i], 1);
        else if (!strcmp(argv[i], "--closed") && i + 1 < argc)
            bad |= check_list(argv[++i], 0);
        else {
            fprintf(stderr, "exec_target: unknown argument %s\n", argv[i]);
            bad = 1;
        }
    }
    fflush(stdout);
    return bad ? 3 : 0;
}
