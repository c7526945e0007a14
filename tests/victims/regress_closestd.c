/* regress: closes stdout and stderr (pipes to its parent) to say "done" and keeps running 3 s. */
#include <unistd.h>
int main(void)
{
    close(1);
    close(2);
    sleep(3);
    return 0;
}
