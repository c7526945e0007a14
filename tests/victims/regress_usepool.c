/* regress: uses libregress_pool (which closes its log file in its destructor) and leaks one
 * descriptor of its own. Prints "pool <fd>" and "leak <fd>" for the driver. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int pool_log(const char *path, const char *msg);
int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int p = pool_log(argv[1], "x");
    int leak = open("/dev/null", O_RDONLY);
    printf("pool %d\nleak %d\n", p, leak);
    return p < 0 || leak < 0 ? 2 : 0;
}
