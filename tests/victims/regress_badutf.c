/* regress: leaks files whose names hold invalid UTF-8 (a surrogate, a 5-byte form, an overlong
 * form) in the directory argv[1]; the JSON report must still be valid UTF-8. Prints "leak <fd>". */
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *names[] = {"badutf_f_\xed\xa0\x80", "badutf_g_\xf8\x88\x80", "badutf_h_\xe0\x80\x80"};
    for (int i = 0; i < 3; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[1], names[i]);
        int fd = open(p, O_CREAT | O_RDWR, 0600);
        if (fd < 0)
            return perror("open"), 2;
        printf("leak %d\n", fd);
    }
    return 0;
}
