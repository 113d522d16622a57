/* ctxsw.h -- private to src/http/: switching between a loop thread and a handler's
 * fiber stack.
 *
 * glibc's swapcontext saves and restores the signal mask with a system call on every
 * switch; a single-event ingest switched four or five times, so that was four or five
 * rt_sigprocmask calls per request (strace -c, docs/performance.md). On x86-64 the switch
 * here saves only what the SysV ABI says a callee keeps (rbx, rbp, r12-r15, the stack
 * pointer, the SSE and x87 control words) and never enters the kernel. Other
 * architectures fall back to ucontext. Fibers never touch the signal mask. */
#ifndef DMP_HTTP_CTXSW_H
#define DMP_HTTP_CTXSW_H

#include <stddef.h>

#if defined(__x86_64__) && !defined(DMP_CTXSW_UCONTEXT)
typedef struct dmp_ctx {
    void *sp; /* saved stack pointer; the registers are on that stack */
} dmp_ctx_t;
#else
#include <ucontext.h>
#define DMP_CTXSW_UCONTEXT 1
typedef struct dmp_ctx {
    ucontext_t uc;
} dmp_ctx_t;
#endif

/* Sets ctx up so that the first switch to it calls fn() on [stack, stack + size).
 * fn must never return: it ends by switching away for good. */
void dmp_ctx_make(dmp_ctx_t *ctx, void *stack, size_t size, void (*fn)(void));

/* Saves the running context in *from and continues *to. Returns when something
 * switches back to *from. */
void dmp_ctx_switch(dmp_ctx_t *from, dmp_ctx_t *to);

#endif
