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

#define rcu_dereference(p)		 __atomic_load_n(&(p), __ATOMIC_CONSUME)
/* For writers that hold the lock that serialises updates of p: a plain read suffices. */
#define rcu_dereference_protected(p) (p)
#define rcu_access_pointer(p)		 __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define rcu_assign_pointer(p, v)	 __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
/* Before the object is published, or when storing NULL. */
#define RCU_INIT_POINTER(p, v)		 __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

#define READ_ONCE(x)	 __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static inline void rcu_read_lock(void)
{
	urcu_memb_read_lock();
}

static inline void rcu_read_unlock(void)
{
	urcu_memb_read_unlock();
}

static inline void synchronize_rcu(void)
{
	urcu_memb_synchronize_rcu();
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
