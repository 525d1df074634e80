// SPDX-License-Identifier: MIT
/*
 * net_namespace.c - network namespaces: creation (copy_net_ns(), setup_net()), the pernet
 * operations registered by subsystems (dev.c's loopback and device teardown, later the BPF
 * netns attach code), and teardown (cleanup_net()), following net/core/net_namespace.c.
 *
 * Teardown runs on a worker, as in the kernel, not in the put_net() that dropped the last
 * count: the last user may hold any lock (a subsystem mutex that a pre_exit takes) or sit in
 * an RCU read-side section (where synchronize_rcu() would never return), and a worker lets
 * every namespace that died since its last run share one pass and one grace period, which is
 * what makes destroying namespaces by the thousand cheap. net_ns_barrier() (and
 * nsbpf_runtime_flush()) waits for it, so callers and tests can still observe the end of a
 * teardown deterministically.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "net_namespace.h"
#include "runtime.h"

/* Per-net private-data slots allocated up front; arrays grow when more ids are registered. */
#define INITIAL_NET_GEN_PTRS 8

/* How many dynamic inode numbers there are (proc_alloc_inum() allocates below UINT_MAX). */
#define PROC_DYNAMIC_COUNT ((int)(0xFFFFFFFFU - PROC_DYNAMIC_FIRST))

static int ns_alloc_inum(struct net *net)
{
	struct netns_state *ns = &net->rt->netns;
	int i;

	mutex_lock(&ns->inum_lock);
	/* The lowest free number, like the kernel's ida: a dead namespace's inode is reused. */
	i = idr_alloc(&ns->proc_inum_ida, net, 0, PROC_DYNAMIC_COUNT);
	mutex_unlock(&ns->inum_lock);
	if (i < 0)
		return i;
	net->ns.inum = PROC_DYNAMIC_FIRST + (unsigned int)i;
	return 0;
}

static void ns_free_inum(struct net *net)
{
	struct netns_state *ns = &net->rt->netns;

	if (net->ns.inum < PROC_DYNAMIC_FIRST)
		return;
	mutex_lock(&ns->inum_lock);
	idr_remove(&ns->proc_inum_ida, net->ns.inum - PROC_DYNAMIC_FIRST);
	mutex_unlock(&ns->inum_lock);
}

/* The user.max_net_namespaces limit; init_net is not counted, as in the kernel. */
static int inc_net_namespaces(struct nsbpf_runtime *rt)
{
	struct netns_state *ns = &rt->netns;
	unsigned int nr = __atomic_add_fetch(&ns->nr_net_namespaces, 1, __ATOMIC_RELAXED);

	if (ns->max_net_namespaces && nr > ns->max_net_namespaces) {
		__atomic_sub_fetch(&ns->nr_net_namespaces, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	return 0;
}

static void dec_net_namespaces(struct nsbpf_runtime *rt)
{
	__atomic_sub_fetch(&rt->netns.nr_net_namespaces, 1, __ATOMIC_RELAXED);
}

static struct net_generic *net_alloc_generic(unsigned int len)
{
	struct net_generic *ng = calloc(1, sizeof(*ng) + len * sizeof(void *));

	if (ng)
		ng->len = len;
	return ng;
}

static struct net *net_alloc(struct nsbpf_runtime *rt)
{
	struct net *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	refcount_set(&net->passive, 1);
	refcount_set(&net->count, 1);
	INIT_LIST_HEAD(&net->list);
	INIT_LIST_HEAD(&net->exit_list);
	INIT_LIST_HEAD(&net->dev_base_head);
	idr_init_rcu(&net->dev_by_index);
	net->dev_base_seq = 1;
	net->rt = rt;
	net->net_cookie = __atomic_add_fetch(&rt->netns.net_cookie, 1, __ATOMIC_RELAXED);
	return net;
}

static void net_free(struct net *net)
{
	free(net->gen);
	idr_destroy(&net->dev_by_index);
	free(net);
}

void net_passive_dec(struct net *net)
{
	if (refcount_dec_and_test(&net->passive))
		net_free(net);
}

/*
 * Must be called with pernet_ops_rwsem held, for writing if @net is on net_namespace_list:
 * RCU readers of a listed net may hold the array being replaced, which then waits on gen_free
 * for the grace period register_pernet_operations() ends with.
 */
static int net_assign_generic(struct net *net, unsigned int id, void *data)
{
	struct netns_state *ns = &net->rt->netns;
	struct net_generic *ng, *old_ng = rcu_dereference_protected(net->gen);

	if (id < old_ng->len) {
		rcu_assign_pointer(old_ng->ptr[id], data);
		return 0;
	}
	ng = net_alloc_generic(ns->max_gen_ptrs);
	if (!ng)
		return -ENOMEM;
	memcpy(ng->ptr, old_ng->ptr, old_ng->len * sizeof(void *));
	ng->ptr[id] = data;
	rcu_assign_pointer(net->gen, ng);
	old_ng->free_next = ns->gen_free;
	ns->gen_free = old_ng;
	return 0;
}

/* Must be called with pernet_ops_rwsem held. */
static int ops_init(const struct pernet_operations *ops, struct net *net)
{
	void *data = NULL;
	int err;

	if (ops->id) {
		data = calloc(1, ops->size);
		if (!data)
			return -ENOMEM;
		err = net_assign_generic(net, *ops->id, data);
		if (err)
			goto err_free_data;
	}
	if (ops->init) {
		err = ops->init(net);
		if (err)
			goto err_unassign_data;
	}
	return 0;

err_unassign_data:
	if (data)
		RCU_INIT_POINTER(net->gen->ptr[*ops->id], NULL);
err_free_data:
	free(data);
	return err;
}

/*
 * The steps of undoing pernet operations, each over a batch of nets linked by exit_list. They
 * run pernet callbacks: must be called with pernet_ops_rwsem held.
 */
static void ops_pre_exit_list(const struct pernet_operations *ops, struct list_head *net_exit_list)
{
	struct net *net;

	if (ops->pre_exit)
		list_for_each_entry(net, net_exit_list, exit_list)
			ops->pre_exit(net);
}

static void ops_exit_list(const struct pernet_operations *ops, struct list_head *net_exit_list)
{
	struct net *net;

	if (ops->exit)
		list_for_each_entry(net, net_exit_list, exit_list)
			ops->exit(net);
	if (ops->exit_batch)
		ops->exit_batch(net_exit_list);
}

static void ops_free_list(const struct pernet_operations *ops, struct list_head *net_exit_list)
{
	struct net *net;

	list_for_each_entry(net, net_exit_list, exit_list) {
		if (ops->free)
			ops->free(net);
		if (ops->id) {
			free(net->gen->ptr[*ops->id]);
			RCU_INIT_POINTER(net->gen->ptr[*ops->id], NULL);
		}
	}
}

/* The exit_rtnl step: one RTNL section, one unregister_netdevice_many() for every device. */
static void ops_exit_rtnl_list(struct nsbpf_runtime *rt, const struct list_head *ops_list,
			       const struct list_head *start, struct list_head *net_exit_list)
{
	const struct pernet_operations *ops;
	LIST_HEAD(dev_kill_list);
	struct net *net;

	rtnl_lock(rt);
	list_for_each_entry(net, net_exit_list, exit_list)
		list_for_each_entry_before_reverse(ops, start, ops_list, list)
			if (ops->exit_rtnl)
				ops->exit_rtnl(net, &dev_kill_list);
	unregister_netdevice_many(&dev_kill_list);
	rtnl_unlock(rt);
}

/*
 * Undoes, for every net of @net_exit_list, the ops of @ops_list that come before @start (a
 * node of the list, or the list head itself for all of them), in reverse order: every
 * pre_exit, one grace period, exit_rtnl, exit and exit_batch, free.
 *
 * Must be called with pernet_ops_rwsem held.
 */
static void ops_undo_list(struct nsbpf_runtime *rt, const struct list_head *ops_list,
			  const struct list_head *start, struct list_head *net_exit_list)
{
	const struct pernet_operations *ops;
	bool hold_rtnl = false;

	list_for_each_entry_before_reverse(ops, start, ops_list, list) {
		hold_rtnl |= !!ops->exit_rtnl;
		ops_pre_exit_list(ops, net_exit_list);
	}

	/*
	 * Readers that found these nets (on the list, or through what pre_exit unpublished)
	 * must be gone before exit takes things apart.
	 */
	synchronize_rcu();

	if (hold_rtnl)
		ops_exit_rtnl_list(rt, ops_list, start, net_exit_list);
	list_for_each_entry_before_reverse(ops, start, ops_list, list)
		ops_exit_list(ops, net_exit_list);
	list_for_each_entry_before_reverse(ops, start, ops_list, list)
		ops_free_list(ops, net_exit_list);
}

/* Undoes one op (already off pernet_list) for the nets of @net_exit_list. */
static void ops_undo_single(struct nsbpf_runtime *rt, struct pernet_operations *ops,
			    struct list_head *net_exit_list)
{
	LIST_HEAD(ops_list);

	list_add(&ops->list, &ops_list);
	ops_undo_list(rt, &ops_list, &ops_list, net_exit_list);
	list_del(&ops->list);
}

/*
 * Runs every init in registration order and publishes the net on net_namespace_list; on
 * failure, undoes the ops already run and returns the error.
 *
 * Must be called with pernet_ops_rwsem held.
 */
static int setup_net(struct net *net)
{
	struct netns_state *ns = &net->rt->netns;
	const struct pernet_operations *ops;
	LIST_HEAD(net_exit_list);
	int error;

	/* Sized while pernet_ops_rwsem keeps max_gen_ptrs still: setup never grows it. */
	net->gen = net_alloc_generic(ns->max_gen_ptrs);
	if (!net->gen)
		return -ENOMEM;

	list_for_each_entry(ops, &ns->pernet_list, list) {
		error = ops_init(ops, net);
		if (error < 0)
			goto out_undo;
	}
	down_write(&ns->net_rwsem);
	list_add_tail_rcu(&net->list, &ns->net_namespace_list);
	up_write(&ns->net_rwsem);
	return 0;

out_undo:
	list_add(&net->exit_list, &net_exit_list);
	ops_undo_list(net->rt, &ns->pernet_list, &ops->list, &net_exit_list);
	list_del_init(&net->exit_list);
	return error;
}

int copy_net_ns(unsigned long flags, struct net *old_net, struct net **out)
{
	struct nsbpf_runtime *rt = old_net->rt;
	struct net *net;
	int err;

	if (!(flags & CLONE_NEWNET)) {
		*out = get_net(old_net);
		return 0;
	}

	err = inc_net_namespaces(rt);
	if (err)
		return err;
	net = net_alloc(rt);
	if (!net) {
		err = -ENOMEM;
		goto err_dec_ucounts;
	}
	err = ns_alloc_inum(net);
	if (err)
		goto err_free_net;

	down_read(&rt->netns.pernet_ops_rwsem);
	err = setup_net(net);
	up_read(&rt->netns.pernet_ops_rwsem);
	if (err)
		goto err_free_inum;
	*out = net;
	return 0;

err_free_inum:
	ns_free_inum(net);
err_free_net:
	net_passive_dec(net);
err_dec_ucounts:
	dec_net_namespaces(rt);
	return err;
}

/* netns_wq: tears down every net whose count dropped to zero since the last run. */
static void cleanup_net(struct work_struct *work)
{
	struct netns_state *ns = container_of(work, struct netns_state, net_cleanup_work);
	struct nsbpf_runtime *rt = container_of(ns, struct nsbpf_runtime, netns);
	struct llist_node *net_kill_list;
	struct net *net, *tmp;
	LIST_HEAD(net_exit_list);

	net_kill_list = llist_del_all(&ns->cleanup_list);
	if (!net_kill_list)
		return;
	ns->cleanup_batches++;

	down_read(&ns->pernet_ops_rwsem);

	/* Don't let anyone else find us; RCU walkers are waited for in ops_undo_list(). */
	down_write(&ns->net_rwsem);
	llist_for_each_entry_safe(net, tmp, net_kill_list, cleanup_list)
		list_del_rcu(&net->list);
	up_write(&ns->net_rwsem);

	llist_for_each_entry_safe(net, tmp, net_kill_list, cleanup_list)
		list_add_tail(&net->exit_list, &net_exit_list);

	ops_undo_list(rt, &ns->pernet_list, &ns->pernet_list, &net_exit_list);

	up_read(&ns->pernet_ops_rwsem);

	list_for_each_entry_safe(net, tmp, &net_exit_list, exit_list) {
		list_del_init(&net->exit_list);
		ns_free_inum(net);
		if (net != ns->init_net)
			dec_net_namespaces(rt);
		net_passive_dec(net);
	}
}

void __put_net(struct net *net)
{
	struct netns_state *ns = &net->rt->netns;

	/* Only the put that finds the list empty needs to kick the worker. */
	if (llist_add(&net->cleanup_list, &ns->cleanup_list))
		queue_work(ns->netns_wq, &ns->net_cleanup_work);
}

int net_ns_barrier(struct nsbpf_runtime *rt)
{
	return drain_workqueue(rt->netns.netns_wq);
}

/* Must be called with pernet_ops_rwsem held for writing. */
static int __register_pernet_operations(struct nsbpf_runtime *rt, struct list_head *list,
					struct pernet_operations *ops)
{
	LIST_HEAD(net_exit_list);
	struct net *net;
	int error;

	list_add_tail(&ops->list, list);
	if (ops->init || ops->id) {
		/* The write lock keeps setup_net() and cleanup_net() out: the list is still. */
		for_each_net(rt, net) {
			error = ops_init(ops, net);
			if (error)
				goto out_undo;
			list_add_tail(&net->exit_list, &net_exit_list);
		}
	}
	return 0;

out_undo:
	list_del(&ops->list);
	ops_undo_single(rt, ops, &net_exit_list);
	return error;
}

/* Must be called with pernet_ops_rwsem held for writing. */
static void free_replaced_generic(struct netns_state *ns)
{
	struct net_generic *ng, *next;

	if (!ns->gen_free)
		return;
	synchronize_rcu();
	for (ng = ns->gen_free; ng; ng = next) {
		next = ng->free_next;
		free(ng);
	}
	ns->gen_free = NULL;
}

/* Must be called with pernet_ops_rwsem held for writing. */
static int register_pernet_operations(struct nsbpf_runtime *rt, struct list_head *list,
				      struct pernet_operations *ops)
{
	struct netns_state *ns = &rt->netns;
	int error;

	if (!!ops->id ^ !!ops->size)
		return -EINVAL;
	if (ops->id) {
		error = idr_alloc(&ns->net_generic_ids, ops, 1, 0);
		if (error < 0)
			return error;
		*ops->id = error;
		if (ns->max_gen_ptrs < *ops->id + 1)
			ns->max_gen_ptrs = *ops->id + 1;
	}
	error = __register_pernet_operations(rt, list, ops);
	free_replaced_generic(ns);
	if (error && ops->id)
		idr_remove(&ns->net_generic_ids, *ops->id);
	return error;
}

/* Must be called with pernet_ops_rwsem held for writing. */
static void unregister_pernet_operations(struct nsbpf_runtime *rt, struct pernet_operations *ops)
{
	LIST_HEAD(net_exit_list);
	struct net *net;

	list_del(&ops->list);
	for_each_net(rt, net)
		list_add_tail(&net->exit_list, &net_exit_list);
	ops_undo_single(rt, ops, &net_exit_list);
	if (ops->id)
		idr_remove(&rt->netns.net_generic_ids, *ops->id);
}

int register_pernet_subsys(struct nsbpf_runtime *rt, struct pernet_operations *ops)
{
	int error;

	down_write(&rt->netns.pernet_ops_rwsem);
	error = register_pernet_operations(rt, rt->netns.first_device, ops);
	up_write(&rt->netns.pernet_ops_rwsem);
	return error;
}

void unregister_pernet_subsys(struct nsbpf_runtime *rt, struct pernet_operations *ops)
{
	down_write(&rt->netns.pernet_ops_rwsem);
	unregister_pernet_operations(rt, ops);
	up_write(&rt->netns.pernet_ops_rwsem);
}

int register_pernet_device(struct nsbpf_runtime *rt, struct pernet_operations *ops)
{
	struct netns_state *ns = &rt->netns;
	int error;

	down_write(&ns->pernet_ops_rwsem);
	error = register_pernet_operations(rt, &ns->pernet_list, ops);
	if (!error && ns->first_device == &ns->pernet_list)
		ns->first_device = &ops->list;
	up_write(&ns->pernet_ops_rwsem);
	return error;
}

void unregister_pernet_device(struct nsbpf_runtime *rt, struct pernet_operations *ops)
{
	struct netns_state *ns = &rt->netns;

	down_write(&ns->pernet_ops_rwsem);
	if (&ops->list == ns->first_device)
		ns->first_device = ns->first_device->next;
	unregister_pernet_operations(rt, ops);
	up_write(&ns->pernet_ops_rwsem);
}

int net_ns_init(struct nsbpf_runtime *rt, unsigned int max_net_namespaces)
{
	struct netns_state *ns = &rt->netns;
	struct net *net;
	int err;

	init_rwsem(&ns->pernet_ops_rwsem);
	INIT_LIST_HEAD(&ns->pernet_list);
	ns->first_device = &ns->pernet_list;
	idr_init(&ns->net_generic_ids);
	ns->max_gen_ptrs = INITIAL_NET_GEN_PTRS;
	init_rwsem(&ns->net_rwsem);
	INIT_LIST_HEAD(&ns->net_namespace_list);
	mutex_init(&ns->inum_lock);
	idr_init(&ns->proc_inum_ida);
	init_llist_head(&ns->cleanup_list);
	INIT_WORK(&ns->net_cleanup_work, cleanup_net);
	ns->max_net_namespaces = max_net_namespaces;

	err = alloc_ordered_workqueue("nsbpf-netns", &ns->netns_wq);
	if (err)
		goto err_destroy_locks;

	err = -ENOMEM;
	net = net_alloc(rt);
	if (!net)
		goto err_destroy_wq;
	net->ns.inum = PROC_NET_INIT_INO;
	/* No pernet operations yet: subsystems set init_net up as they register. */
	down_read(&ns->pernet_ops_rwsem);
	err = setup_net(net);
	up_read(&ns->pernet_ops_rwsem);
	if (err)
		goto err_free_net;
	ns->init_net = net;
	return 0;

err_free_net:
	net_passive_dec(net);
err_destroy_wq:
	destroy_workqueue(ns->netns_wq);
err_destroy_locks:
	mutex_destroy(&ns->inum_lock);
	destroy_rwsem(&ns->net_rwsem);
	destroy_rwsem(&ns->pernet_ops_rwsem);
	return err;
}

/*
 * Tears down what is left once the last user reference should be gone (nsbpf_runtime_free()
 * has exited every task and dropped init_nsproxy). Namespaces whose handles the embedder never
 * put are torn down anyway: their handles die with the runtime.
 */
void net_ns_shutdown(struct nsbpf_runtime *rt)
{
	struct netns_state *ns = &rt->netns;
	struct net *net, *tmp;
	LIST_HEAD(leaked);

	net_ns_barrier(rt);
	down_write(&ns->net_rwsem);
	list_for_each_entry_safe(net, tmp, &ns->net_namespace_list, list) {
		refcount_set(&net->count, 1);
		list_add_tail(&net->exit_list, &leaked);
	}
	up_write(&ns->net_rwsem);
	list_for_each_entry_safe(net, tmp, &leaked, exit_list) {
		list_del_init(&net->exit_list);
		put_net(net);
	}
	net_ns_barrier(rt);
	ns->init_net = NULL;
}

/* Pernet operations still registered have nothing left to undo and are dropped. */
void net_ns_exit(struct nsbpf_runtime *rt)
{
	struct netns_state *ns = &rt->netns;

	destroy_workqueue(ns->netns_wq);
	INIT_LIST_HEAD(&ns->pernet_list);
	idr_destroy(&ns->net_generic_ids);
	idr_destroy(&ns->proc_inum_ida);
	mutex_destroy(&ns->inum_lock);
	destroy_rwsem(&ns->net_rwsem);
	destroy_rwsem(&ns->pernet_ops_rwsem);
}

int nsbpf_net_get_init(struct nsbpf_runtime *rt, struct nsbpf_net **net)
{
	*net = net_to_handle(get_net(rt->netns.init_net));
	return 0;
}

struct nsbpf_net *nsbpf_net_get(struct nsbpf_net *net)
{
	get_net(net_from_handle(net));
	return net;
}

void nsbpf_net_put(struct nsbpf_net *net)
{
	put_net(net_from_handle(net));
}

uint32_t nsbpf_net_inum(const struct nsbpf_net *net)
{
	return net_from_handle(net)->ns.inum;
}

uint64_t nsbpf_net_cookie(const struct nsbpf_net *net)
{
	return net_from_handle(net)->net_cookie;
}
