/* SPDX-License-Identifier: MIT */
/*
 * refcount.h - reference counts with the kernel's refcount_t rules: a count that reaches zero
 * stays there (refcount_inc_not_zero() fails on it), and incrementing from zero or dropping
 * below zero is a use-after-free in the making, so it stops the process with a message rather
 * than let memory be reused under someone's feet.
 */
#ifndef NSBPF_CORE_REFCOUNT_H
#define NSBPF_CORE_REFCOUNT_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
	unsigned int refs;
} refcount_t;

#define REFCOUNT_INIT(n)                                                                           \
	{                                                                                          \
		.refs = (n)                                                                        \
	}

__attribute__((noreturn, cold)) static inline void refcount_bug(const char *what)
{
	fprintf(stderr, "nsbpf: refcount_t: %s\n", what);
	abort();
}

static inline void refcount_set(refcount_t *r, unsigned int n)
{
	__atomic_store_n(&r->refs, n, __ATOMIC_RELAXED);
}

static inline unsigned int refcount_read(const refcount_t *r)
{
	return __atomic_load_n(&r->refs, __ATOMIC_RELAXED);
}

static inline void refcount_inc(refcount_t *r)
{
	unsigned int old = __atomic_fetch_add(&r->refs, 1, __ATOMIC_RELAXED);

	if (__builtin_expect(old == 0, 0))
		refcount_bug("increment on 0; use-after-free");
	if (__builtin_expect(old == UINT_MAX, 0))
		refcount_bug("overflow");
}

static inline bool refcount_inc_not_zero(refcount_t *r)
{
	unsigned int old = __atomic_load_n(&r->refs, __ATOMIC_RELAXED);

	do {
		if (!old)
			return false;
	} while (!__atomic_compare_exchange_n(&r->refs, &old, old + 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/*
 * True when this was the last reference: the caller then owns the object's teardown. Release
 * orders this holder's accesses before the count drops; acquire orders the teardown after
 * every other holder's (acq_rel rather than the kernel's release + fence, which
 * ThreadSanitizer cannot follow; on x86 both are one locked instruction).
 */
static inline bool refcount_dec_and_test(refcount_t *r)
{
	unsigned int old = __atomic_fetch_sub(&r->refs, 1, __ATOMIC_ACQ_REL);

	if (__builtin_expect(old == 0, 0))
		refcount_bug("underflow; use-after-free");
	return old == 1;
}

#endif /* NSBPF_CORE_REFCOUNT_H */
