/* SPDX-License-Identifier: MIT */
/*
 * nsproxy.h - the set of namespaces a task lives in (include/linux/nsproxy.h) and the calls
 * that change it: fork shares the parent's nsproxy, unshare(CLONE_NEWNET) and setns() give the
 * task a new copy (copy on write: other tasks sharing the old one see no change).
 *
 * nsbpf models network namespaces only. The uts, ipc, mount and pid namespaces exist so that an
 * nsproxy has the kernel's shape and inode numbers, but only the initial ones: unsharing them
 * is -EINVAL.
 *
 * A task's nsproxy pointer changes under task_lock(); another thread reads it under that lock
 * (task_get_net()); the task's own thread may read it without.
 */
#ifndef NSBPF_CORE_NSPROXY_H
#define NSBPF_CORE_NSPROXY_H

#include "net_namespace.h"
#include "refcount.h"

struct nsbpf_runtime;
struct task_struct;

/* Fixed inode numbers of the initial namespaces (include/linux/proc_ns.h). */
#define PROC_IPC_INIT_INO 0xEFFFFFFFU
#define PROC_UTS_INIT_INO 0xEFFFFFFEU
#define PROC_PID_INIT_INO 0xEFFFFFFCU
#define PROC_MNT_INIT_INO 0xEFFFFFF8U

struct uts_namespace {
	struct ns_common ns;
};

struct ipc_namespace {
	struct ns_common ns;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct pid_namespace {
	struct ns_common ns;
};

/*
 * Shared by tasks that share all their namespaces; `count` is the number of tasks (and other
 * holders) referring to it.
 */
struct nsproxy {
	refcount_t count;
	/* No references: only the initial namespaces exist, and they live in the runtime. */
	struct uts_namespace *uts_ns;
	struct ipc_namespace *ipc_ns;
	struct mnt_namespace *mnt_ns;
	struct pid_namespace *pid_ns_for_children;
	struct net *net_ns; /* holds a count reference */
};

/* The runtime's initial namespaces (rt->nsproxy). */
struct nsproxy_state {
	struct uts_namespace init_uts_ns;
	struct ipc_namespace init_ipc_ns;
	struct mnt_namespace init_mnt_ns;
	struct pid_namespace init_pid_ns;
	struct nsproxy *init_nsproxy; /* holds a reference, dropped by nsproxy_exit() */
};

static inline void get_nsproxy(struct nsproxy *ns)
{
	refcount_inc(&ns->count);
}

void free_nsproxy(struct nsproxy *ns);

static inline void put_nsproxy(struct nsproxy *ns)
{
	if (refcount_dec_and_test(&ns->count))
		free_nsproxy(ns);
}

/*
 * At fork, @tsk holds a reference on its parent's nsproxy: keep sharing it, or with
 * CLONE_NEWNET give @tsk a copy with a new network namespace instead. On failure @tsk still
 * holds the parent's.
 */
int copy_namespaces(unsigned long flags, struct task_struct *tsk);
/* Installs @new (whose reference the task takes over) and drops the old one. */
void switch_task_namespaces(struct task_struct *tsk, struct nsproxy *new);
void exit_task_namespaces(struct task_struct *tsk);

/* unshare(2) for @tsk: 0 or CLONE_NEWNET; any other flag is -EINVAL. */
int ksys_unshare(struct task_struct *tsk, unsigned long unshare_flags);
/* setns(2) onto @net: @nstype is 0 or CLONE_NEWNET; another runtime's net is -EINVAL. */
int task_setns(struct task_struct *tsk, struct net *net, int nstype);
/* A count reference on @tsk's network namespace (what opening /proc/PID/ns/net gives). */
int task_get_net(struct task_struct *tsk, struct net **net);

int nsproxy_init(struct nsbpf_runtime *rt);
void nsproxy_exit(struct nsbpf_runtime *rt);

#endif /* NSBPF_CORE_NSPROXY_H */
