// SPDX-License-Identifier: MIT
/*
 * task.c - tasks: fork (copy_process(), as kernel/fork.c: namespaces, then a pid, then the
 * cgroup), exit (do_exit(), as kernel/exit.c: the cgroup, the namespaces, the pid), pid lookup,
 * and the runtime's init_task. Public entry points for tasks are at the end.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"
#include "task.h"

void __put_task_struct(struct task_struct *t)
{
	pthread_mutex_destroy(&t->alloc_lock);
	free(t);
}

/* Pids are cyclic, as the kernel's alloc_pid(): after the first wrap, from RESERVED_PIDS on. */
static int alloc_pid(struct task_struct *p)
{
	struct task_state *ts = &p->rt->tasks;
	int pid, pid_min = 1;

	mutex_lock(&ts->tasklist_lock);
	if (idr_get_cursor(&ts->pid_idr) > RESERVED_PIDS)
		pid_min = RESERVED_PIDS;
	pid = idr_alloc_cyclic(&ts->pid_idr, p, pid_min, PID_MAX_DEFAULT);
	if (pid > 0) {
		p->pid = pid;
		list_add_tail(&p->tasks, &ts->list);
	}
	mutex_unlock(&ts->tasklist_lock);
	return pid == -ENOSPC ? -EAGAIN : pid;
}

static void free_pid(struct task_struct *p)
{
	struct task_state *ts = &p->rt->tasks;

	mutex_lock(&ts->tasklist_lock);
	idr_remove(&ts->pid_idr, p->pid);
	list_del_init(&p->tasks);
	mutex_unlock(&ts->tasklist_lock);
}

int copy_process(struct task_struct *parent, unsigned long clone_flags, struct task_struct **out)
{
	struct task_struct *p;
	int err;

	if (clone_flags & ~(unsigned long)CLONE_NEWNET)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	refcount_set(&p->usage, 1);
	p->rt = parent->rt;
	pthread_mutex_init(&p->alloc_lock, NULL);
	INIT_LIST_HEAD(&p->cg_list);
	INIT_LIST_HEAD(&p->tasks);

	/* The child starts sharing its parent's nsproxy. */
	task_lock(parent);
	p->nsproxy = parent->nsproxy;
	if (p->nsproxy)
		get_nsproxy(p->nsproxy);
	task_unlock(parent);
	if (!p->nsproxy) {
		err = -ESRCH;
		goto err_free_task;
	}
	err = copy_namespaces(clone_flags, p);
	if (err)
		goto err_put_namespaces;

	err = alloc_pid(p);
	if (err < 0)
		goto err_put_namespaces;

	cgroup_post_fork(p, parent);
	*out = p;
	return 0;

err_put_namespaces:
	exit_task_namespaces(p);
err_free_task:
	__put_task_struct(p);
	return err;
}

void do_exit(struct task_struct *tsk)
{
	cgroup_exit(tsk);
	exit_task_namespaces(tsk);
	free_pid(tsk);
	put_task_struct(tsk);
}

struct task_struct *find_get_task_by_vpid(struct nsbpf_runtime *rt, int pid)
{
	struct task_struct *p = NULL;

	if (pid <= 0)
		return NULL;
	mutex_lock(&rt->tasks.tasklist_lock);
	p = idr_find(&rt->tasks.pid_idr, pid);
	if (p)
		get_task_struct(p);
	mutex_unlock(&rt->tasks.tasklist_lock);
	return p;
}

int task_init(struct nsbpf_runtime *rt)
{
	struct task_state *ts = &rt->tasks;
	struct task_struct *init = &ts->init_task;

	mutex_init(&ts->tasklist_lock);
	idr_init(&ts->pid_idr);
	INIT_LIST_HEAD(&ts->list);

	/* Lives as long as the runtime: its usage never drops to zero. */
	refcount_set(&init->usage, 1);
	init->pid = 0;
	init->rt = rt;
	pthread_mutex_init(&init->alloc_lock, NULL);
	INIT_LIST_HEAD(&init->cg_list);
	INIT_LIST_HEAD(&init->tasks);
	init->nsproxy = rt->nsproxy.init_nsproxy;
	get_nsproxy(init->nsproxy);
	init->cgroup = rt->cgroup.root;
	return 0;
}

void task_exit_all(struct nsbpf_runtime *rt)
{
	struct task_state *ts = &rt->tasks;
	struct task_struct *init = &ts->init_task;
	struct task_struct *p;

	for (;;) {
		mutex_lock(&ts->tasklist_lock);
		p = list_empty(&ts->list) ? NULL
					  : list_first_entry(&ts->list, struct task_struct, tasks);
		mutex_unlock(&ts->tasklist_lock);
		if (!p)
			break;
		do_exit(p);
	}
	exit_task_namespaces(init);
	pthread_mutex_destroy(&init->alloc_lock);
	idr_destroy(&ts->pid_idr);
	mutex_destroy(&ts->tasklist_lock);
}

int nsbpf_task_new(struct nsbpf_runtime *rt, struct nsbpf_task *parent, struct nsbpf_task **task)
{
	struct task_struct *p;
	int err;

	err = copy_process(parent ? task_from_handle(parent) : &rt->tasks.init_task, 0, &p);
	if (!err)
		*task = task_to_handle(p);
	return err;
}

void nsbpf_task_exit(struct nsbpf_task *task)
{
	do_exit(task_from_handle(task));
}

int nsbpf_task_pid(const struct nsbpf_task *task)
{
	return task_from_handle(task)->pid;
}
