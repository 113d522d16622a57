/* ctxsw.c -- see ctxsw.h. */
#include "http/ctxsw.h"

#include <stdint.h>
#include <string.h>

#ifndef DMP_CTXSW_UCONTEXT

/* dmp_ctx_switch(from = rdi, to = rsi). Pushes the callee-saved registers and the
 * control words on the current stack, stores the stack pointer in from->sp, loads
 * to->sp and pops the same frame from there; 'ret' then continues wherever 'to' last
 * called dmp_ctx_switch (or, the first time, at the entry dmp_ctx_make put there). */
__asm__(".text\n"
        ".globl dmp_ctx_switch\n"
        ".type dmp_ctx_switch,@function\n"
        "dmp_ctx_switch:\n"
        "    .cfi_startproc\n"
        "    endbr64\n"
        "    pushq %rbp\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %rbx\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r12\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r13\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r14\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    pushq %r15\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    subq $8, %rsp\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq (%rsi), %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r15\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r14\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r13\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %r12\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %rbx\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %rbp\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size dmp_ctx_switch, .-dmp_ctx_switch\n");

void dmp_ctx_make(dmp_ctx_t *ctx, void *stack, size_t size, void (*fn)(void))
{
    /* From the top: a zero return address for fn (so fn starts as if called, with the
     * stack 8 bytes off 16-byte alignment, as the ABI wants), fn itself for 'ret', six
     * zeroed registers, then the default MXCSR (0x1f80) and x87 control word (0x037f). */
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top;
    *--sp = 0;
    *--sp = (uint64_t)(uintptr_t)fn;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    *--sp = 0x1f80ull | (0x037full << 32);
    ctx->sp = sp;
}

#else

void dmp_ctx_make(dmp_ctx_t *ctx, void *stack, size_t size, void (*fn)(void))
{
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, fn, 0);
}

void dmp_ctx_switch(dmp_ctx_t *from, dmp_ctx_t *to)
{
    swapcontext(&from->uc, &to->uc);
}

#endif
