// SPDX-License-Identifier: MIT
/*
 * workqueue.c - ordered workqueues (see workqueue.h): a mutex-protected list of pending work
 * items and one thread that takes them off in order. Draining waits on a condition variable
 * the worker signals after every item, so callers (nsbpf_runtime_flush(), tests) can wait for
 * deferred teardown deterministically. Across a fork the thread is ended and started again
 * (workqueue_stop_worker()/workqueue_start_worker()); the queue itself is kept.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "rcu.h"
#include "workqueue.h"

struct workqueue_struct {
	/* Protects every field below and the entry/pending fields of queued work. */
	pthread_mutex_t lock;
	pthread_cond_t more_work; /* the worker waits for work, a thaw or the stop */
	pthread_cond_t done;	  /* drainers wait for the worker to finish an item */
	struct list_head worklist;
	struct work_struct *current_work; /* running, outside the lock */
	unsigned int frozen;
	bool stopping;
	unsigned long nr_done;
	pthread_t thread;
	char name[16];
};

static bool worker_may_run(const struct workqueue_struct *wq)
{
	return !list_empty(&wq->worklist) && !wq->frozen;
}

static void *worker_thread(void *arg)
{
	struct workqueue_struct *wq = arg;
	struct work_struct *work;

	pthread_setname_np(pthread_self(), wq->name);
	rcu_register_thread();
	pthread_mutex_lock(&wq->lock);
	for (;;) {
		while (!worker_may_run(wq) && !wq->stopping)
			pthread_cond_wait(&wq->more_work, &wq->lock);
		if (!worker_may_run(wq))
			break;
		work = list_first_entry(&wq->worklist, struct work_struct, entry);
		list_del_init(&work->entry);
		/* Cleared before running so that the item may queue itself again. */
		work->pending = false;
		wq->current_work = work;
		pthread_mutex_unlock(&wq->lock);

		/* @work may be freed by its function: not touched after this call. */
		work->func(work);

		pthread_mutex_lock(&wq->lock);
		wq->current_work = NULL;
		wq->nr_done++;
		pthread_cond_broadcast(&wq->done);
	}
	pthread_mutex_unlock(&wq->lock);
	rcu_unregister_thread();
	return NULL;
}

int alloc_ordered_workqueue(const char *name, struct workqueue_struct **out)
{
	struct workqueue_struct *wq;
	int err;

	wq = calloc(1, sizeof(*wq));
	if (!wq)
		return -ENOMEM;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->more_work, NULL);
	pthread_cond_init(&wq->done, NULL);
	INIT_LIST_HEAD(&wq->worklist);
	snprintf(wq->name, sizeof(wq->name), "%s", name);

	err = -pthread_create(&wq->thread, NULL, worker_thread, wq);
	if (err)
		goto err_free_wq;
	*out = wq;
	return 0;

err_free_wq:
	pthread_cond_destroy(&wq->done);
	pthread_cond_destroy(&wq->more_work);
	pthread_mutex_destroy(&wq->lock);
	free(wq);
	return err;
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	bool queued = false;

	pthread_mutex_lock(&wq->lock);
	if (!work->pending) {
		work->pending = true;
		list_add_tail(&work->entry, &wq->worklist);
		pthread_cond_signal(&wq->more_work);
		queued = true;
	}
	pthread_mutex_unlock(&wq->lock);
	return queued;
}

int drain_workqueue(struct workqueue_struct *wq)
{
	int err = 0;

	if (pthread_equal(pthread_self(), wq->thread))
		return -EDEADLK;
	pthread_mutex_lock(&wq->lock);
	while (worker_may_run(wq) || wq->current_work)
		pthread_cond_wait(&wq->done, &wq->lock);
	if (!list_empty(&wq->worklist))
		err = -EBUSY;
	pthread_mutex_unlock(&wq->lock);
	return err;
}

void workqueue_freeze(struct workqueue_struct *wq)
{
	pthread_mutex_lock(&wq->lock);
	wq->frozen++;
	pthread_mutex_unlock(&wq->lock);
}

void workqueue_thaw(struct workqueue_struct *wq)
{
	pthread_mutex_lock(&wq->lock);
	wq->frozen--;
	pthread_cond_signal(&wq->more_work);
	pthread_mutex_unlock(&wq->lock);
}

unsigned long workqueue_nr_done(struct workqueue_struct *wq)
{
	unsigned long n;

	pthread_mutex_lock(&wq->lock);
	n = wq->nr_done;
	pthread_mutex_unlock(&wq->lock);
	return n;
}

int workqueue_stop_worker(struct workqueue_struct *wq)
{
	if (pthread_equal(pthread_self(), wq->thread))
		return -EDEADLK;
	pthread_mutex_lock(&wq->lock);
	wq->stopping = true;
	pthread_cond_signal(&wq->more_work);
	pthread_mutex_unlock(&wq->lock);
	/* It leaves once nothing may run; frozen work stays queued. */
	pthread_join(wq->thread, NULL);
	pthread_mutex_lock(&wq->lock);
	wq->stopping = false;
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

int workqueue_start_worker(struct workqueue_struct *wq)
{
	return -pthread_create(&wq->thread, NULL, worker_thread, wq);
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	pthread_mutex_lock(&wq->lock);
	wq->frozen = 0;
	wq->stopping = true;
	pthread_cond_signal(&wq->more_work);
	pthread_mutex_unlock(&wq->lock);
	/* The worker leaves only once the list is empty: every queued item has run. */
	pthread_join(wq->thread, NULL);
	pthread_cond_destroy(&wq->done);
	pthread_cond_destroy(&wq->more_work);
	pthread_mutex_destroy(&wq->lock);
	free(wq);
}
