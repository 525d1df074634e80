// SPDX-License-Identifier: MIT
/*
 * uaccess.c - copy_from_user / copy_to_user for the bpf() dispatcher: every pointer a caller
 * passes (the attr itself, keys, values, info buffers, paths) is read and written here, and a
 * bad one gives -EFAULT instead of a crash.
 *
 * The copy runs at memcpy speed: no syscall per copy. Faults are fixed up the way the
 * kernel's exception table does it. A SIGSEGV/SIGBUS handler, installed once, looks at the
 * faulting thread's state: inside a marked copy it jumps back to the copy's entry, which
 * returns -EFAULT; anywhere else it hands the signal on to whatever handler was installed
 * before (the default action, a sanitizer's, the application's), so a genuine crash still
 * crashes. The handler runs with SA_NODEFER, so leaving it by siglongjmp leaves the signal
 * unblocked and the copy can use sigsetjmp(env, 0), which saves no mask (no syscall).
 *
 * Addresses the kernel would reject before touching them (above the x86-64 user address
 * space, or ranges that wrap) are -EFAULT without a copy, as access_ok() does.
 *
 * An application that installs its own SIGSEGV handler after the first copy replaces ours;
 * faults in copies then reach it instead, until bpf_uaccess_install() puts ours back on top
 * (test frameworks that swap handlers around each test do this).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "bpf.h"

/* TASK_SIZE_MAX of x86-64 with 4-level paging: the first address user space cannot map. */
#define UACCESS_TASK_SIZE 0x00007ffffffff000ull

/*
 * One thread's copy in progress. initial-exec TLS: the handler reads it without calling
 * __tls_get_addr, which is not async-signal-safe in a dlopen()ed or preloaded library.
 */
struct uaccess_fixup {
	sigjmp_buf env;
	volatile sig_atomic_t active; /* set only between sigsetjmp and the end of the copy */
};

static __thread struct uaccess_fixup uaccess_fixup __attribute__((tls_model("initial-exec")));

/* The process this thread acts for (nsbpf_set_caller()); NULL: this one. */
__thread const struct nsbpf_caller *bpf_caller __attribute__((tls_model("initial-exec")));

void nsbpf_set_caller(const struct nsbpf_caller *caller)
{
	bpf_caller = caller;
}

/* The handlers that were installed before ours: written once, under uaccess_once. */
static struct sigaction uaccess_old_segv, uaccess_old_bus;
static pthread_once_t uaccess_once = PTHREAD_ONCE_INIT;

/* Not ours: behave as if our handler were not there. */
static void uaccess_chain(int sig, siginfo_t *info, void *uctx)
{
	const struct sigaction *old = sig == SIGSEGV ? &uaccess_old_segv : &uaccess_old_bus;

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, info, uctx);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/*
	 * Default action (an ignored SIGSEGV from a fault is fatal too): restore it. A fault
	 * re-executes the faulting instruction on return and dies of it, with the right
	 * si_addr in the core; a signal sent by kill() is raised again.
	 */
	signal(sig, SIG_DFL);
	if (info->si_code <= 0)
		raise(sig);
}

static void uaccess_handler(int sig, siginfo_t *info, void *uctx)
{
	struct uaccess_fixup *fx = &uaccess_fixup;

	/* Only faults (si_code > 0) inside a copy; a kill(SIGSEGV) is never ours. */
	if (fx->active && info->si_code > 0) {
		fx->active = 0;
		siglongjmp(fx->env, 1);
	}
	uaccess_chain(sig, info, uctx);
}

static void uaccess_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = uaccess_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &uaccess_old_segv);
	sigaction(SIGBUS, &sa, &uaccess_old_bus);
}

void bpf_uaccess_install(void)
{
	struct sigaction cur;

	pthread_once(&uaccess_once, uaccess_install);
	if (sigaction(SIGSEGV, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == uaccess_handler)
		return;
	uaccess_install();
}

static bool uaccess_ok(const void *uptr, size_t len)
{
	uint64_t addr = (uint64_t)(uintptr_t)uptr;

	return len <= UACCESS_TASK_SIZE && addr <= UACCESS_TASK_SIZE - len;
}

#ifdef NSBPF_SANITIZE
/*
 * Under the sanitizers memcpy is intercepted: ASan checks the range against its shadow and
 * UBSan rejects a NULL source before any fault could happen. Copy with volatile accesses
 * (so the compiler cannot turn the loop back into a memcpy call) and no instrumentation.
 */
__attribute__((no_sanitize("address", "undefined"), noinline)) static void
uaccess_memcpy(void *dst, const void *src, size_t len)
{
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;

	while (len--)
		*d++ = *s++;
}
#else
static inline void uaccess_memcpy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}
#endif

/* The copy proper, with the fixup armed around it. */
__attribute__((noinline)) static int uaccess_copy(void *dst, const void *src, size_t len)
{
	struct uaccess_fixup *fx = &uaccess_fixup;

	pthread_once(&uaccess_once, uaccess_install);
	if (sigsetjmp(fx->env, 0))
		return -EFAULT;
	fx->active = 1;
	uaccess_memcpy(dst, src, len);
	fx->active = 0;
	return 0;
}

/* A copy to or from @user, memory of this process, whatever the thread acts for. */
static int copy_here(void *dst, const void *src, size_t len, const void *user)
{
	if (!len)
		return 0;
	if (!uaccess_ok(user, len))
		return -EFAULT;
	return uaccess_copy(dst, src, len);
}

/*
 * Reads one byte at a time up to the NUL (the string may end just before an unmapped page):
 * strings here are paths, short and rare.
 */
static long strncpy_here(char *dst, const void *usrc, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		/* integer arithmetic: usrc may be NULL or wild, which pointer arithmetic may not */
		const void *at = (const void *)((uintptr_t)usrc + i);

		if (copy_here(&dst[i], at, 1, at))
			return -EFAULT;
		if (!dst[i])
			return (long)i;
	}
	return (long)count;
}

int copy_from_user(void *dst, const void *usrc, size_t len)
{
	const struct nsbpf_caller *caller = bpf_caller;

	if (caller && len && uaccess_ok(usrc, len))
		return caller->ops->read(caller->ctx, dst, (uint64_t)(uintptr_t)usrc, len);
	return copy_here(dst, usrc, len, usrc);
}

int copy_to_user(void *udst, const void *src, size_t len)
{
	const struct nsbpf_caller *caller = bpf_caller;

	if (caller && len && uaccess_ok(udst, len))
		return caller->ops->write(caller->ctx, (uint64_t)(uintptr_t)udst, src, len);
	return copy_here(udst, src, len, udst);
}

long strncpy_from_user(char *dst, const void *usrc, size_t count)
{
	const struct nsbpf_caller *caller = bpf_caller;

	/* One round trip to a caller elsewhere, not one per byte. */
	if (caller)
		return caller->ops->read_str(caller->ctx, dst, (uint64_t)(uintptr_t)usrc, count);
	return strncpy_here(dst, usrc, count);
}

static int bpf_uaccess_copy_from(const struct bpf_uaccess *ua, void *dst, uint64_t src, size_t len)
{
	(void)ua;
	return copy_from_user(dst, u64_to_user_ptr(src), len);
}

static int bpf_uaccess_copy_to(const struct bpf_uaccess *ua, uint64_t dst, const void *src,
			       size_t len)
{
	(void)ua;
	return copy_to_user(u64_to_user_ptr(dst), src, len);
}

const struct bpf_uaccess bpf_uaccess_user = {
	.copy_from_user = bpf_uaccess_copy_from,
	.copy_to_user = bpf_uaccess_copy_to,
};

int nsbpf_copy_from_user(void *dst, const void *src, size_t len)
{
	return copy_here(dst, src, len, src);
}

int nsbpf_copy_to_user(void *dst, const void *src, size_t len)
{
	return copy_here(dst, src, len, dst);
}

long nsbpf_strncpy_from_user(char *dst, const void *src, size_t count)
{
	return strncpy_here(dst, src, count);
}
