/* regress: a daemon closes its standard streams; /dev/null lands on 0 and 1 and its data file
 * (argv[1]) on fd 2. It leaks a descriptor and makes a bad close too, so fdleak has a report and
 * an error to tell. The file must hold only the program's bytes (the driver checks). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    close(0);
    close(1);
    close(2);
    int a = open("/dev/null", O_RDONLY);
    int b = open("/dev/null", O_WRONLY);
    int fd = open(argv[1], O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (a != 0 || b != 1 || fd != 2)
        return 3;
    if (write(fd, "DATA\n", 5) != 5)
        return 4;
    int leak = open("/dev/null", O_RDONLY); /* leaked on purpose */
    (void)leak;
    close(900); /* a bad close: fdleak may warn about it */
    return 0;   /* the data file is closed by exit */
}
