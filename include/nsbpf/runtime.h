/* SPDX-License-Identifier: MIT */
/*
 * nsbpf/runtime.h - one virtual kernel: its tasks, their network namespaces, net devices and a
 * cgroup v2 hierarchy.
 *
 * A runtime is an instance of the kernel's object layer. Two runtimes in one process share
 * nothing: pids, namespace inode numbers, ifindexes and cgroup ids are all per runtime (two
 * runtimes hand out the same numbers).
 *
 * Handles are references. A struct nsbpf_net is what an open /proc/PID/ns/net gives: it keeps
 * the namespace alive until nsbpf_net_put(). A struct nsbpf_cgroup is what an open cgroup
 * directory gives: it keeps the cgroup in memory (its id stays valid) even after it is
 * removed. A struct nsbpf_task lives until nsbpf_task_exit().
 *
 * Order of calls:
 *   1. nsbpf_runtime_new().
 *   2. nsbpf_task_new() for each task you act as (NULL parent: forked from init, in the
 *      initial network namespace and the root cgroup); nsbpf_task_unshare(),
 *      nsbpf_task_setns(), nsbpf_cgroup_attach_task() as the kernel's calls of the same name.
 *   3. nsbpf_task_exit(), nsbpf_net_put(), nsbpf_cgroup_put() for every handle.
 *   4. nsbpf_runtime_free(). Handles not released by then are released for you and are
 *      invalid afterwards.
 *
 * Deferred teardown: as in the kernel, a namespace whose last reference goes, and a cgroup
 * whose last reference goes, are torn down shortly after, on a worker thread of the runtime.
 * nsbpf_runtime_flush() waits for everything released so far.
 *
 * Threads: functions may be called from any thread; one task handle is driven by one thread
 * at a time. Nothing here needs the calling thread registered with liburcu, and none of these
 * functions may be called inside an RCU read-side critical section.
 *
 * Every function returns 0 (or the non-negative value stated) or a negative errno.
 */
#ifndef NSBPF_RUNTIME_H
#define NSBPF_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nsbpf_runtime;
struct nsbpf_task;
struct nsbpf_net;
struct nsbpf_cgroup;

/* Options for nsbpf_runtime_new(); declare with NSBPF_RUNTIME_OPTS(). */
struct nsbpf_runtime_opts {
	size_t sz; /* sizeof(struct nsbpf_runtime_opts): lets the struct grow */
	/*
	 * Most network namespaces alive at once besides the initial one, as the
	 * user.max_net_namespaces sysctl; one more is -ENOSPC. 0: no limit.
	 */
	uint32_t max_net_namespaces;
	size_t : 0;
};

#define NSBPF_RUNTIME_OPTS(NAME, ...)                                                              \
	struct nsbpf_runtime_opts NAME = ({                                                        \
		memset(&NAME, 0, sizeof(struct nsbpf_runtime_opts));                               \
		(struct nsbpf_runtime_opts){ .sz = sizeof(struct nsbpf_runtime_opts),              \
					     __VA_ARGS__ };                                        \
	})

/*
 * Creates a runtime: init_net with its lo, the root cgroup (id 1), init's task. @opts may be
 * NULL; a caller's struct larger than ours must have zeros past our fields (else -EINVAL), as
 * must sz be at least sizeof(size_t). -ENOMEM, -EAGAIN (no worker thread).
 */
int nsbpf_runtime_new(const struct nsbpf_runtime_opts *opts, struct nsbpf_runtime **rt);
/* Exits every task, removes every cgroup, tears every namespace down, frees the runtime. */
void nsbpf_runtime_free(struct nsbpf_runtime *rt);
/*
 * Waits until every namespace and cgroup released so far is torn down and freed. -EDEADLK if
 * called from one of the runtime's own workers (a pernet or cgroup callback).
 */
int nsbpf_runtime_flush(struct nsbpf_runtime *rt);
/*
 * fork() without exec: the runtime's workers are threads, which fork does not copy. Call
 * nsbpf_runtime_before_fork() just before fork() (it ends the workers once they are idle;
 * work queued later waits for the new ones), with no other call into @rt in progress or made
 * until the after-fork call; then nsbpf_runtime_after_fork_parent() in the parent and
 * nsbpf_runtime_after_fork_child() in the child (right after fork, while it has no other
 * thread). Each starts new workers: the child's copy of the runtime tears down what it
 * releases. before_fork: -EDEADLK from a worker (nothing stopped). after_fork: -EAGAIN (no
 * thread): deferred teardown then never runs, and nsbpf_runtime_flush() would not return.
 */
int nsbpf_runtime_before_fork(struct nsbpf_runtime *rt);
int nsbpf_runtime_after_fork_parent(struct nsbpf_runtime *rt);
int nsbpf_runtime_after_fork_child(struct nsbpf_runtime *rt);

/* Tasks. */

/* Forks a task from @parent (NULL: from init). -EAGAIN when pids run out. */
int nsbpf_task_new(struct nsbpf_runtime *rt, struct nsbpf_task *parent, struct nsbpf_task **task);
/* Ends the task: it leaves its cgroup and drops its namespaces. @task is invalid after. */
void nsbpf_task_exit(struct nsbpf_task *task);
int nsbpf_task_pid(const struct nsbpf_task *task);

#define NSBPF_CLONE_NEWNET 0x40000000 /* CLONE_NEWNET */

/*
 * unshare(2): with NSBPF_CLONE_NEWNET the task moves to a new network namespace (tasks that
 * shared its namespaces stay where they were). 0 does nothing; other flags are -EINVAL (only
 * network namespaces are modelled). -ENOSPC past max_net_namespaces.
 */
int nsbpf_task_unshare(struct nsbpf_task *task, unsigned long flags);
/* setns(2) onto @net; @nstype 0 or NSBPF_CLONE_NEWNET, a net of another runtime: -EINVAL. */
int nsbpf_task_setns(struct nsbpf_task *task, struct nsbpf_net *net, int nstype);
/* A handle on the task's network namespace (open("/proc/PID/ns/net")). */
int nsbpf_task_get_net(struct nsbpf_task *task, struct nsbpf_net **net);

/* Network namespaces. */

/* A handle on the initial network namespace. */
int nsbpf_net_get_init(struct nsbpf_runtime *rt, struct nsbpf_net **net);
/* Another handle on the same namespace; returns @net. */
struct nsbpf_net *nsbpf_net_get(struct nsbpf_net *net);
void nsbpf_net_put(struct nsbpf_net *net);
/* st_ino of /proc/PID/ns/net: 0xEFFFFFF9 for the initial namespace, else from 0xF0000000 up. */
uint32_t nsbpf_net_inum(const struct nsbpf_net *net);
/* The namespace's cookie (bpf_get_netns_cookie()): never reused within a runtime. */
uint64_t nsbpf_net_cookie(const struct nsbpf_net *net);

/* Network devices of a namespace. Every namespace has "lo" with ifindex 1. */

/*
 * ip link add NAME type dummy: a device named @name (one "%d" in it takes the lowest free
 * number); *ifindex (if not NULL) gets its ifindex. -EEXIST, -EINVAL (bad name).
 */
int nsbpf_net_dev_add(struct nsbpf_net *net, const char *name, int *ifindex);
/* ip link del: -ENODEV, -EOPNOTSUPP for lo. */
int nsbpf_net_dev_del(struct nsbpf_net *net, int ifindex);
/* if_nametoindex(): the ifindex, or -ENODEV. */
int nsbpf_net_dev_ifindex(struct nsbpf_net *net, const char *name);
/* if_indextoname(): -ENODEV, -ERANGE if @size is too small. */
int nsbpf_net_dev_name(struct nsbpf_net *net, int ifindex, char *name, size_t size);

/*
 * The cgroup v2 hierarchy. Paths are relative to its root ("/", "/a/b"); "." and ".." work
 * as in a file system.
 */

/* -EEXIST, -ENOENT (parent missing), -EINVAL, -ENAMETOOLONG. */
int nsbpf_cgroup_mkdir(struct nsbpf_runtime *rt, const char *path);
/* -ENOENT, -EBUSY (tasks or child cgroups in it, or the root). */
int nsbpf_cgroup_rmdir(struct nsbpf_runtime *rt, const char *path);
/* A handle on the cgroup at @path (open() of its directory); -ENOENT. */
int nsbpf_cgroup_open(struct nsbpf_runtime *rt, const char *path, struct nsbpf_cgroup **cgrp);
void nsbpf_cgroup_put(struct nsbpf_cgroup *cgrp);
/* The cgroup id (name_to_handle_at(), bpf_get_current_cgroup_id()); the root's is 1. */
uint64_t nsbpf_cgroup_id(const struct nsbpf_cgroup *cgrp);
/* echo PID > cgroup.procs; -ENODEV if the cgroup was removed. */
int nsbpf_cgroup_attach_task(struct nsbpf_cgroup *cgrp, struct nsbpf_task *task);
/* cat cgroup.procs: fills @pids with up to @max pids; returns how many there are. */
int nsbpf_cgroup_procs(struct nsbpf_cgroup *cgrp, int *pids, unsigned int max);
/* A handle on the task's cgroup. */
int nsbpf_task_get_cgroup(struct nsbpf_task *task, struct nsbpf_cgroup **cgrp);

#ifdef __cplusplus
}
#endif

#endif /* NSBPF_RUNTIME_H */
