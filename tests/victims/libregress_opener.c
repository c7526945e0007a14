/* regress_dlfork: a plugin that opens a descriptor. */
#include <fcntl.h>
int regress_opener(void) { return open("/dev/null", O_RDONLY); }
