/* SPDX-License-Identifier: MIT */
/*
 * rcu.h - read-copy-update for the virtual kernel, on liburcu's memb flavour.
 *
 * Readers (the packet path, anything that walks an RCU-published pointer without holding the
 * writer's lock) bracket their reads with rcu_read_lock()/rcu_read_unlock(); writers publish
 * with rcu_assign_pointer() and free what they unpublished only after synchronize_rcu().
 *
 * Who must register with liburcu: every thread that calls rcu_read_lock(). The runtime's own
 * worker threads register themselves (workqueue.c). A thread that only drives the control
 * plane (creates namespaces, devices, cgroups) need not register: the core never enters a
 * read-side section on the caller's thread, and synchronize_rcu() works from any thread. Never
 * call synchronize_rcu() (hence never a control-plane function) inside rcu_read_lock(), and
 * never block on a mutex inside it: a writer holding that mutex may be waiting for the reader.
 *
 * The grace-period machinery is liburcu's, process-wide: runtimes share it, as every process
 * shares one RCU; they share no data through it.
 *
 * rcu_dereference() and rcu_assign_pointer() are C11 atomics (consume / release) rather than
 * liburcu's volatile accesses: the same ordering, inline, and visible to ThreadSanitizer.
 */
#ifndef NSBPF_CORE_RCU_H
#define NSBPF_CORE_RCU_H

#include <urcu/urcu-memb.h>

#undef rcu_dereference
#undef rcu_assign_pointer

/*
 * rcu_dereference_protected() is for writers that hold the lock serialising updates of p: a
 * plain read suffices. RCU_INIT_POINTER() is for stores before the object is published, or of
 * NULL.
 */
#define rcu_dereference(p)	     __atomic_load_n(&(p), __ATOMIC_CONSUME)
#define rcu_dereference_protected(p) (p)
#define rcu_access_pointer(p)	     __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define rcu_assign_pointer(p, v)     __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v)	     __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

#define READ_ONCE(x)	 __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/*
 * ThreadSanitizer cannot see liburcu's grace periods and would report every free after
 * synchronize_rcu() as racing with the readers it waited for. Each read-side section's end is
 * made a release, and the end of a grace period an acquire, on one token (the address of
 * liburcu's synchronize function, the same in every file): the reads of the sections a grace
 * period waited for then happen before what follows it. The price is extra ordering between
 * unrelated readers and writers, which can hide races of theirs from ThreadSanitizer.
 */
#if defined(__SANITIZE_THREAD__)
#define NSBPF_TSAN_RCU 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NSBPF_TSAN_RCU 1
#endif
#endif

#ifdef NSBPF_TSAN_RCU
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define rcu_tsan_gp_token() ((void *)urcu_memb_synchronize_rcu)
#endif

static inline void rcu_read_lock(void)
{
	urcu_memb_read_lock();
}

static inline void rcu_read_unlock(void)
{
#ifdef NSBPF_TSAN_RCU
	__tsan_release(rcu_tsan_gp_token());
#endif
	urcu_memb_read_unlock();
}

static inline void synchronize_rcu(void)
{
	urcu_memb_synchronize_rcu();
#ifdef NSBPF_TSAN_RCU
	__tsan_acquire(rcu_tsan_gp_token());
#endif
}

static inline void rcu_register_thread(void)
{
	urcu_memb_register_thread();
}

static inline void rcu_unregister_thread(void)
{
	urcu_memb_unregister_thread();
}

#endif /* NSBPF_CORE_RCU_H */
