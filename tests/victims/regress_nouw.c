/* regress_unwpipe's helper, compiled without unwind tables: libunwind validates its frames. */
#include <fcntl.h>
int regress_open_noinfo(const char *path) { return open(path, O_RDONLY); }
