/* children.h — which processes of the tree write reports (FDLEAK_CHILDREN; children.c). */
#ifndef FDL_CHILDREN_H
#define FDL_CHILDREN_H

#include <stdbool.h>

/* Decides for this process image (start-up: single-threaded, the thread marked busy; reads
 * /proc: not async-signal-safe). A forked child keeps the decision. */
void fdl_children_decide(void);

/* True when this process writes no reports, metrics or notices. Lock-free; safe anywhere. */
bool fdl_children_silent(void);

#endif
