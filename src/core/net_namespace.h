/* SPDX-License-Identifier: MIT */
/*
 * net_namespace.h - network namespaces (struct net) and the pernet_operations that give every
 * subsystem its per-namespace state, as in the kernel's include/net/net_namespace.h.
 *
 * Lifetime: `count` counts users (nsproxies, namespace handles, anything that needs the
 * namespace alive); when it drops to zero the namespace is torn down, later, by cleanup_net()
 * on the runtime's netns workqueue. `passive` keeps only the memory: a holder may still read
 * the struct (its inode number, whether it is alive) after teardown, never use it as live.
 *
 * Locks (all in rt->netns): pernet_ops_rwsem, held for reading while namespaces are set up or
 * torn down and for writing while pernet operations are registered; net_rwsem, held for
 * writing to change net_namespace_list (readers hold it for reading, hold pernet_ops_rwsem, or
 * walk the list under RCU). Order: pernet_ops_rwsem, then RTNL, then net_rwsem.
 */
#ifndef NSBPF_CORE_NET_NAMESPACE_H
#define NSBPF_CORE_NET_NAMESPACE_H

#include <stddef.h>
#include <stdint.h>

#include "idr.h"
#include "list.h"
#include "mutex.h"
#include "rcu.h"
#include "refcount.h"
#include "workqueue.h"

struct net_device;
struct nsbpf_runtime;

#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif

/* The kernel's fixed inode number of init_net (include/linux/proc_ns.h), and where the
 * dynamically allocated ones start (proc_alloc_inum()). */
#define PROC_NET_INIT_INO  0xEFFFFFF9U
#define PROC_DYNAMIC_FIRST 0xF0000000U

struct ns_common {
	unsigned int inum; /* st_ino of /proc/PID/ns/<type> */
};

/* Per-net private data of the pernet_operations that asked for it, indexed by their id. */
struct net_generic {
	unsigned int len;	       /* slots in ptr[] */
	struct net_generic *free_next; /* replaced arrays waiting for a grace period */
	void *ptr[];
};

struct net {
	refcount_t passive; /* memory: freed when it drops to zero */
	refcount_t count;   /* users: torn down when it drops to zero */

	struct list_head list;		/* net_namespace_list; net_rwsem, RCU for readers */
	struct list_head exit_list;	/* a batch being undone; pernet_ops_rwsem */
	struct llist_node cleanup_list; /* queued for cleanup_net() */

	struct ns_common ns;
	uint64_t net_cookie; /* unique for the runtime's lifetime, never reused (as inums are) */
	/* No reference: a runtime outlives its namespaces (nsbpf_runtime_free() tears them down).
	 */
	struct nsbpf_runtime *rt;
	/* RCU: readers hold rcu_read_lock() or pernet_ops_rwsem; replaced only under it held
	 * for writing. */
	struct net_generic *gen;

	/*
	 * Devices (dev.c). Changed under RTNL; dev_base_head and dev_by_index are also walked
	 * and looked up under RCU.
	 */
	struct list_head dev_base_head;
	struct idr dev_by_index;
	unsigned int dev_base_seq;
	/* No reference: lo lives as long as it is registered; cleared when it is unregistered. */
	struct net_device *loopback_dev;
};

/*
 * What a subsystem does for each network namespace. Registered in a runtime (the struct is the
 * registration: one runtime at a time, and it must outlive its registration). Every callback
 * runs with pernet_ops_rwsem held.
 *
 * init runs when a namespace is created and, at registration, for every existing one; a
 * failure unwinds what was done. Teardown runs, for every op in reverse registration order:
 * pre_exit (readers may still see the namespace: unpublish here), one RCU grace period,
 * exit_rtnl (RTNL held; queue devices to kill on dev_kill_list), then exit for each namespace
 * followed by exit_batch with the whole batch, then free (the private data goes after it).
 * `free` is nsbpf's: the kernel only frees the data at that step.
 *
 * With @id and @size set, each namespace gets @size zeroed bytes of private data before init,
 * at net_generic(net, *id); registration writes the id.
 */
struct pernet_operations {
	struct list_head list; /* the runtime's pernet_list; pernet_ops_rwsem */
	int (*init)(struct net *net);
	void (*pre_exit)(struct net *net);
	void (*exit_rtnl)(struct net *net, struct list_head *dev_kill_list);
	void (*exit)(struct net *net);
	void (*exit_batch)(struct list_head *net_exit_list);
	void (*free)(struct net *net);
	unsigned int *id;
	size_t size;
};

/* The runtime's network-namespace state (rt->netns). */
struct netns_state {
	/* Protects pernet_list, first_device, net_generic_ids, max_gen_ptrs and gen_free. */
	struct rw_semaphore pernet_ops_rwsem;
	struct list_head pernet_list;	/* subsystems, then devices */
	struct list_head *first_device; /* where subsystems are inserted */
	struct idr net_generic_ids;
	unsigned int max_gen_ptrs;
	struct net_generic *gen_free;

	/* Protects net_namespace_list against changes (readers: see the header comment). */
	struct rw_semaphore net_rwsem;
	struct list_head net_namespace_list;
	/* No reference of its own: init_nsproxy holds init_net, which lives until
	 * nsbpf_runtime_free(). */
	struct net *init_net;

	/* Protects proc_inum_ida (inode numbers of the namespaces being set up or alive). */
	struct mutex inum_lock;
	struct idr proc_inum_ida;

	struct llist_head cleanup_list; /* nets whose count dropped to zero */
	struct workqueue_struct *netns_wq;
	struct work_struct net_cleanup_work;
	unsigned long cleanup_batches; /* cleanup_net() runs; a statistic (netns_wq only) */

	uint64_t net_cookie;		 /* last cookie handed out; atomic */
	unsigned int nr_net_namespaces;	 /* alive besides init_net; atomic */
	unsigned int max_net_namespaces; /* 0: no limit; fixed at runtime creation */
};

static inline struct net *get_net(struct net *net)
{
	refcount_inc(&net->count);
	return net;
}

/* A count reference on a net that may be dying, or NULL if it already is. */
static inline struct net *maybe_get_net(struct net *net)
{
	return refcount_inc_not_zero(&net->count) ? net : NULL;
}

void __put_net(struct net *net);

/* Callable in any context: the teardown runs later on the netns workqueue. */
static inline void put_net(struct net *net)
{
	if (refcount_dec_and_test(&net->count))
		__put_net(net);
}

/* Whether the namespace is still alive (not yet handed to cleanup_net()). */
static inline bool check_net(const struct net *net)
{
	return refcount_read(&net->count) != 0;
}

static inline bool net_eq(const struct net *a, const struct net *b)
{
	return a == b;
}

static inline void net_passive_inc(struct net *net)
{
	refcount_inc(&net->passive);
}

void net_passive_dec(struct net *net);

/* Must be called under rcu_read_lock() or with pernet_ops_rwsem held (pernet callbacks are). */
static inline void *net_generic(const struct net *net, unsigned int id)
{
	struct net_generic *ng = rcu_dereference(((struct net *)net)->gen);

	assert(id && id < ng->len);
	return rcu_dereference(ng->ptr[id]);
}

/* Must be called with pernet_ops_rwsem or net_rwsem held. */
#define for_each_net(rt, VAR) list_for_each_entry(VAR, &(rt)->netns.net_namespace_list, list)
/* Must be called under rcu_read_lock(). */
#define for_each_net_rcu(rt, VAR)                                                                  \
	list_for_each_entry_rcu(VAR, &(rt)->netns.net_namespace_list, list)

int register_pernet_subsys(struct nsbpf_runtime *rt, struct pernet_operations *ops);
void unregister_pernet_subsys(struct nsbpf_runtime *rt, struct pernet_operations *ops);
int register_pernet_device(struct nsbpf_runtime *rt, struct pernet_operations *ops);
void unregister_pernet_device(struct nsbpf_runtime *rt, struct pernet_operations *ops);

/*
 * Without CLONE_NEWNET, a new count reference on @old_net; with it, a new namespace (count 1)
 * in @old_net's runtime. -ENOSPC past max_net_namespaces, -ENOMEM, or the error of a failed
 * pernet init.
 */
int copy_net_ns(unsigned long flags, struct net *old_net, struct net **net);

/* Waits until every namespace whose count dropped to zero so far is torn down and freed. */
int net_ns_barrier(struct nsbpf_runtime *rt);

int net_ns_init(struct nsbpf_runtime *rt, unsigned int max_net_namespaces);
/* Tears down every namespace left, referenced or not; see nsbpf_runtime_free(). */
void net_ns_shutdown(struct nsbpf_runtime *rt);
/* Frees the runtime's namespace state; after net_ns_shutdown() and net_dev_exit(). */
void net_ns_exit(struct nsbpf_runtime *rt);

#endif /* NSBPF_CORE_NET_NAMESPACE_H */
