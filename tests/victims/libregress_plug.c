/* regress_dlfork: a plugin with a large data segment, dlclose()d in a fork child. */
char regress_big[1 << 20] = {1};
int regress_plug(void) { return regress_big[5]; }
