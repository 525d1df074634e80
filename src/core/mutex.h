/* SPDX-License-Identifier: MIT */
/*
 * mutex.h - the sleeping locks of the virtual kernel. struct mutex is a pthread mutex that
 * records its owner, so that a function documented "must be called with X held" can check it
 * with lockdep_assert_held() (compiled out with NDEBUG). struct rw_semaphore is a pthread
 * rwlock; recursive read locking is allowed (glibc prefers readers). Every lock lives in the
 * runtime whose objects it protects; none is global.
 */
#ifndef NSBPF_CORE_MUTEX_H
#define NSBPF_CORE_MUTEX_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>

_Static_assert(sizeof(pthread_t) == sizeof(unsigned long), "pthread_t is an integer on glibc");

struct mutex {
	pthread_mutex_t lock;
	unsigned long owner; /* pthread_self() of the holder, 0 when free; for assertions only */
};

static inline void mutex_init(struct mutex *m)
{
	pthread_mutex_init(&m->lock, NULL);
	m->owner = 0;
}

static inline void mutex_destroy(struct mutex *m)
{
	pthread_mutex_destroy(&m->lock);
}

static inline void mutex_lock(struct mutex *m)
{
	pthread_mutex_lock(&m->lock);
	__atomic_store_n(&m->owner, (unsigned long)pthread_self(), __ATOMIC_RELAXED);
}

static inline void mutex_unlock(struct mutex *m)
{
	__atomic_store_n(&m->owner, 0UL, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&m->lock);
}

static inline bool mutex_is_held_by_current(struct mutex *m)
{
	return __atomic_load_n(&m->owner, __ATOMIC_RELAXED) == (unsigned long)pthread_self();
}

#define lockdep_assert_held(m) assert(mutex_is_held_by_current(m))

struct rw_semaphore {
	pthread_rwlock_t lock;
};

static inline void init_rwsem(struct rw_semaphore *sem)
{
	pthread_rwlock_init(&sem->lock, NULL);
}

static inline void destroy_rwsem(struct rw_semaphore *sem)
{
	pthread_rwlock_destroy(&sem->lock);
}

static inline void down_read(struct rw_semaphore *sem)
{
	pthread_rwlock_rdlock(&sem->lock);
}

static inline void up_read(struct rw_semaphore *sem)
{
	pthread_rwlock_unlock(&sem->lock);
}

static inline void down_write(struct rw_semaphore *sem)
{
	pthread_rwlock_wrlock(&sem->lock);
}

static inline void up_write(struct rw_semaphore *sem)
{
	pthread_rwlock_unlock(&sem->lock);
}

#endif /* NSBPF_CORE_MUTEX_H */
