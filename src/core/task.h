/* SPDX-License-Identifier: MIT */
/*
 * task.h - tasks: what the runtime's users act as. A task has a pid (per runtime, cyclic as
 * the kernel's alloc_pid()), an nsproxy (nsproxy.h) and a cgroup of the v2 hierarchy
 * (cgroup.h). copy_process() forks one from a parent, do_exit() ends it. The runtime's
 * init_task (pid 0) is the ancestor of all: it lives in init_nsproxy and the root cgroup.
 *
 * A task is driven by one thread at a time (it is that thread's "current"); other threads may
 * read its namespaces under task_lock() and its cgroup under cgroup_mutex or RCU.
 */
#ifndef NSBPF_CORE_TASK_H
#define NSBPF_CORE_TASK_H

#include <pthread.h>

#include "idr.h"
#include "list.h"
#include "mutex.h"
#include "refcount.h"

struct cgroup;
struct nsbpf_runtime;
struct nsproxy;

/* As the kernel's defaults: pids below PID_MAX_DEFAULT, reused from RESERVED_PIDS on. */
#define PID_MAX_DEFAULT 0x8000
#define RESERVED_PIDS	300

struct task_struct {
	int pid;
	refcount_t usage;
	/* No reference: the runtime outlives its tasks. */
	struct nsbpf_runtime *rt;
	pthread_mutex_t alloc_lock; /* task_lock(): protects nsproxy */
	struct nsproxy *nsproxy;    /* holds a reference; NULL once the task has exited */
	/*
	 * The task's cgroup: written under cgroup_mutex, read under it or under RCU. No
	 * reference: a cgroup with tasks cannot be removed, so it outlives them.
	 */
	struct cgroup *cgroup;
	struct list_head cg_list; /* on cgroup->tasks; cgroup_mutex */
	struct list_head tasks;	  /* on the runtime's task list; tasklist_lock */
};

/* The runtime's tasks (rt->tasks). */
struct task_state {
	struct mutex tasklist_lock; /* protects pid_idr and list */
	struct idr pid_idr;
	struct list_head list;
	struct task_struct init_task;
};

static inline void task_lock(struct task_struct *p)
{
	pthread_mutex_lock(&p->alloc_lock);
}

static inline void task_unlock(struct task_struct *p)
{
	pthread_mutex_unlock(&p->alloc_lock);
}

static inline void get_task_struct(struct task_struct *t)
{
	refcount_inc(&t->usage);
}

void __put_task_struct(struct task_struct *t);

static inline void put_task_struct(struct task_struct *t)
{
	if (refcount_dec_and_test(&t->usage))
		__put_task_struct(t);
}

/*
 * Forks a task from @parent: same namespaces (or, with CLONE_NEWNET in @clone_flags, a new
 * network namespace), same cgroup, a new pid. The caller owns the returned reference, which
 * do_exit() drops. -EAGAIN when pids run out, -ENOMEM, -EINVAL for unsupported flags, or the
 * error of creating the namespace.
 */
int copy_process(struct task_struct *parent, unsigned long clone_flags, struct task_struct **p);
/* Leaves the cgroup, drops the namespaces and the pid, and the caller's reference. */
void do_exit(struct task_struct *tsk);
/* A reference on the live task with @pid, or NULL. */
struct task_struct *find_get_task_by_vpid(struct nsbpf_runtime *rt, int pid);

int task_init(struct nsbpf_runtime *rt);
/* Exits every task still alive, then init_task. */
void task_exit_all(struct nsbpf_runtime *rt);

#endif /* NSBPF_CORE_TASK_H */
