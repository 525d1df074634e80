// SPDX-License-Identifier: MIT
/*
 * nsproxy.c - the namespaces of tasks (kernel/nsproxy.c): sharing an nsproxy at fork, copying
 * it when a task unshares or enters a namespace, dropping it at exit. An nsproxy is never
 * changed once tasks share it; changing a task's namespaces means building a new one and
 * switching the task to it, so the tasks left on the old one are unaffected.
 *
 * Public entry points for tasks' namespaces (nsbpf_task_unshare() and friends) are at the end.
 */
#include <errno.h>
#include <stdlib.h>

#include "nsproxy.h"
#include "runtime.h"

static struct nsproxy *create_nsproxy(void)
{
	struct nsproxy *nsproxy = calloc(1, sizeof(*nsproxy));

	if (nsproxy)
		refcount_set(&nsproxy->count, 1);
	return nsproxy;
}

/*
 * A new nsproxy for @tsk, with the namespaces @flags asks for created anew and the others
 * shared with the task's current nsproxy.
 */
static int create_new_namespaces(unsigned long flags, struct task_struct *tsk, struct nsproxy **out)
{
	struct nsproxy *old = tsk->nsproxy, *new;
	int err;

	new = create_nsproxy();
	if (!new)
		return -ENOMEM;
	new->uts_ns = old->uts_ns;
	new->ipc_ns = old->ipc_ns;
	new->mnt_ns = old->mnt_ns;
	new->pid_ns_for_children = old->pid_ns_for_children;
	err = copy_net_ns(flags, old->net_ns, &new->net_ns);
	if (err)
		goto err_free_nsproxy;
	*out = new;
	return 0;

err_free_nsproxy:
	free(new);
	return err;
}

void free_nsproxy(struct nsproxy *ns)
{
	put_net(ns->net_ns);
	free(ns);
}

int copy_namespaces(unsigned long flags, struct task_struct *tsk)
{
	struct nsproxy *old = tsk->nsproxy, *new;
	int err;

	if (!(flags & CLONE_NEWNET))
		return 0;
	err = create_new_namespaces(flags, tsk, &new);
	if (err)
		return err;
	tsk->nsproxy = new;
	put_nsproxy(old);
	return 0;
}

void switch_task_namespaces(struct task_struct *tsk, struct nsproxy *new)
{
	struct nsproxy *old;

	task_lock(tsk);
	old = tsk->nsproxy;
	tsk->nsproxy = new;
	task_unlock(tsk);

	if (old)
		put_nsproxy(old);
}

void exit_task_namespaces(struct task_struct *tsk)
{
	switch_task_namespaces(tsk, NULL);
}

int ksys_unshare(struct task_struct *tsk, unsigned long unshare_flags)
{
	struct nsproxy *new;
	int err;

	if (unshare_flags & ~(unsigned long)CLONE_NEWNET)
		return -EINVAL;
	if (!unshare_flags)
		return 0;
	err = create_new_namespaces(unshare_flags, tsk, &new);
	if (err)
		return err;
	switch_task_namespaces(tsk, new);
	return 0;
}

int task_setns(struct task_struct *tsk, struct net *net, int nstype)
{
	struct nsproxy *new;
	int err;

	if ((nstype && nstype != CLONE_NEWNET) || net->rt != tsk->rt)
		return -EINVAL;
	/* As the kernel's prepare_nsset() + netns_install(): a copy with the net replaced. */
	err = create_new_namespaces(0, tsk, &new);
	if (err)
		return err;
	put_net(new->net_ns);
	new->net_ns = get_net(net);
	switch_task_namespaces(tsk, new);
	return 0;
}

int task_get_net(struct task_struct *tsk, struct net **net)
{
	int err = -ESRCH;

	task_lock(tsk);
	if (tsk->nsproxy) {
		*net = get_net(tsk->nsproxy->net_ns);
		err = 0;
	}
	task_unlock(tsk);
	return err;
}

int nsproxy_init(struct nsbpf_runtime *rt)
{
	struct nsproxy_state *nss = &rt->nsproxy;
	struct nsproxy *ns;

	nss->init_uts_ns.ns.inum = PROC_UTS_INIT_INO;
	nss->init_ipc_ns.ns.inum = PROC_IPC_INIT_INO;
	nss->init_mnt_ns.ns.inum = PROC_MNT_INIT_INO;
	nss->init_pid_ns.ns.inum = PROC_PID_INIT_INO;

	ns = create_nsproxy();
	if (!ns)
		return -ENOMEM;
	ns->uts_ns = &nss->init_uts_ns;
	ns->ipc_ns = &nss->init_ipc_ns;
	ns->mnt_ns = &nss->init_mnt_ns;
	ns->pid_ns_for_children = &nss->init_pid_ns;
	/* init_net's first count reference, from its creation, is init_nsproxy's. */
	ns->net_ns = rt->netns.init_net;
	nss->init_nsproxy = ns;
	return 0;
}

void nsproxy_exit(struct nsbpf_runtime *rt)
{
	put_nsproxy(rt->nsproxy.init_nsproxy);
	rt->nsproxy.init_nsproxy = NULL;
}

int nsbpf_task_unshare(struct nsbpf_task *task, unsigned long flags)
{
	return ksys_unshare(task_from_handle(task), flags);
}

int nsbpf_task_setns(struct nsbpf_task *task, struct nsbpf_net *net, int nstype)
{
	return task_setns(task_from_handle(task), net_from_handle(net), nstype);
}

int nsbpf_task_get_net(struct nsbpf_task *task, struct nsbpf_net **net)
{
	struct net *n;
	int err;

	err = task_get_net(task_from_handle(task), &n);
	if (!err)
		*net = net_to_handle(n);
	return err;
}
