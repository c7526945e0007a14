/* wrap_process.c — vfork. Its child borrows the parent's memory until it execs or exits, and
 * CPython's subprocess runs close/dup2/close_range there through libc: those calls must not
 * rewrite the parent's table. The wrapper marks the borrowed thread state for the child and
 * clears it when the parent resumes. */
#include "wrap.h"
#include "tls.h"

#include <unistd.h>

/* The return address is kept off the stack: the child returns first and reuses the stack the
 * parent will return through (what the sanitizers' vfork interceptors do). */
__thread uintptr_t fdl_vfork_ret __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* Called by the trampoline before the real vfork; fork() is a valid vfork if dlsym has not
 * answered yet. Not async-signal-safe on first use (dlsym). */
typedef pid_t (*fdl_vfork_fn)(void);
__attribute__((used, visibility("hidden"))) fdl_vfork_fn fdl_vfork_real(void)
{
    fdl_vfork_fn fn = REAL(vfork);
    return fn ? fn : fork;
}

/* Runs in the child (result 0) and again in the parent when it resumes (child's pid or -1). */
__attribute__((used, visibility("hidden"))) void fdl_vfork_returned(int result)
{
    fdl_tls.vfork_child = result == 0;
}

#if defined(__x86_64__)
__asm__(
    "    .text\n"
    "    .globl vfork\n"
    "    .type vfork, @function\n"
    "vfork:\n"
    "    .cfi_startproc\n"
    "    popq %rdi\n"                                /* our caller's return address */
    "    .cfi_adjust_cfa_offset -8\n"
    "    movq fdl_vfork_ret@gottpoff(%rip), %rax\n"
    "    movq %rdi, %fs:(%rax)\n"
    "    call fdl_vfork_real\n"
    "    call *%rax\n"                               /* child and parent both return here */
    "    pushq %rax\n"
    "    .cfi_adjust_cfa_offset 8\n"
    "    subq $8, %rsp\n"
    "    movl %eax, %edi\n"
    "    call fdl_vfork_returned\n"
    "    addq $8, %rsp\n"
    "    popq %rax\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    movq fdl_vfork_ret@gottpoff(%rip), %rcx\n"
    "    jmp *%fs:(%rcx)\n"
    "    .cfi_endproc\n"
    "    .size vfork, .-vfork\n");
#else
#warning "no vfork trampoline for this architecture: vfork children may disturb the parent's records"
#endif
