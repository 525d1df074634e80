/* SPDX-License-Identifier: MIT */
/*
 * workqueue.h - ordered workqueues: one worker thread per queue runs queued work items one at
 * a time, in queueing order, as the kernel's alloc_ordered_workqueue() does. The runtime uses
 * them where the kernel defers teardown out of the releasing context: netns_wq runs
 * cleanup_net(), cgroup_destroy_wq frees released cgroups.
 *
 * A work item is queued at most once at a time: queue_work() on a pending item does nothing,
 * and an item may be queued again (even by itself) once it has started running. Worker threads
 * are registered with liburcu, so work functions may use rcu_read_lock().
 */
#ifndef NSBPF_CORE_WORKQUEUE_H
#define NSBPF_CORE_WORKQUEUE_H

#include <stdbool.h>

#include "list.h"

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	struct list_head entry; /* on the queue's worklist while pending; the queue's lock */
	work_func_t func;
	bool pending; /* the queue's lock */
};

static inline void INIT_WORK(struct work_struct *work, work_func_t func)
{
	INIT_LIST_HEAD(&work->entry);
	work->func = func;
	work->pending = false;
}

struct workqueue_struct;

/* Starts the worker thread (named @name, at most 15 characters are kept). 0 or -errno. */
int alloc_ordered_workqueue(const char *name, struct workqueue_struct **wq);
/* Waits for every work item, stops the worker and frees the queue. */
void destroy_workqueue(struct workqueue_struct *wq);

/* Queues @work unless it is already pending; true if it was queued. Callable anywhere. */
bool queue_work(struct workqueue_struct *wq, struct work_struct *work);

/*
 * Waits until the queue is empty and its worker idle, including work queued meanwhile.
 * -EDEADLK from the queue's own worker; -EBUSY while the queue is frozen with work pending.
 */
int drain_workqueue(struct workqueue_struct *wq);

/*
 * While frozen, the worker starts no new item (the one running finishes). Lets a caller
 * gather several items into one run, as tests of batched teardown do. Nests.
 */
void workqueue_freeze(struct workqueue_struct *wq);
void workqueue_thaw(struct workqueue_struct *wq);

/* Work items this queue has run so far; lets a caller tell whether a drain did anything. */
unsigned long workqueue_nr_done(struct workqueue_struct *wq);

/*
 * fork() copies only the calling thread, and a worker copied registered with liburcu would
 * stay in its reader registry with no thread behind it. Around a fork, with no other thread
 * using the queue: workqueue_stop_worker() runs what may run (not what a freeze holds) and
 * ends the worker; workqueue_start_worker(), in the parent and in the child, starts a new
 * one, which runs the work still queued. 0 or -errno: -EDEADLK from the worker, -EAGAIN
 * (no thread: the queue then never runs).
 */
int workqueue_stop_worker(struct workqueue_struct *wq);
int workqueue_start_worker(struct workqueue_struct *wq);

#endif /* NSBPF_CORE_WORKQUEUE_H */
