/* SPDX-License-Identifier: MIT */
/*
 * dev.h - network devices, as in the kernel's include/linux/netdevice.h: per-namespace device
 * lists, ifindex allocation (cyclic from 1, per namespace), lookup by ifindex and by name,
 * registration and batched unregistration, and the netdevice notifier chain through which
 * other layers (XDP) learn that a device goes away.
 *
 * Locking: RTNL (rt->netdev.rtnl_mutex, rtnl_lock()) serialises every change to devices and
 * to the notifier chain; functions named __dev_get_* need it held. Readers on the packet path
 * use dev_get_by_index_rcu() under rcu_read_lock(). dev_get_by_index() and dev_get_by_name()
 * take RTNL themselves and return a held device (dev_put() it).
 *
 * Lifetime: alloc_netdev() returns a device holding one reference, its owner's. A successful
 * register hands that reference to the namespace; unregistering drops it once RCU readers and
 * notifiers are done, and the memory goes with the last dev_put(). A device that failed to
 * register (or never was) is freed by its owner with free_netdev(). A device keeps its
 * namespace's memory (a passive reference) but not the namespace alive: a dying namespace
 * unregisters every device it still has.
 */
#ifndef NSBPF_CORE_DEV_H
#define NSBPF_CORE_DEV_H

#include <stddef.h>

#include "list.h"
#include "mutex.h"
#include "net_namespace.h"
#include "refcount.h"

struct nsbpf_runtime;

#define IFNAMSIZ	 16
#define LOOPBACK_IFINDEX 1

/* Device flags, with the values of <linux/if.h>. */
#define IFF_UP	     0x1
#define IFF_LOOPBACK 0x8

/* Notifier events, with the values of <linux/netdevice.h>. */
#define NETDEV_REGISTER	  0x0005
#define NETDEV_UNREGISTER 0x0006

enum netdev_reg_state {
	NETREG_UNINITIALIZED = 0,
	NETREG_REGISTERED,
	NETREG_UNREGISTERING, /* unlisted; notifiers and uninit still to run */
	NETREG_UNREGISTERED,
};

struct net_device;

/* What a driver does for its devices; all optional; called with RTNL held. */
struct net_device_ops {
	int (*ndo_init)(struct net_device *dev);    /* before the device is listed */
	void (*ndo_uninit)(struct net_device *dev); /* after it is unlisted and notified */
};

/* Devices of a kind userspace creates and deletes (ip link add/del) have link ops. */
struct rtnl_link_ops {
	const char *kind;
	/* Queues the device (and whatever goes with it) for unregister_netdevice_many(). */
	void (*dellink)(struct net_device *dev, struct list_head *head);
};

struct net_device {
	char name[IFNAMSIZ];
	int ifindex; /* 0 before registration: allocate one; else ask for this one */
	unsigned int flags;
	unsigned int mtu;
	enum netdev_reg_state reg_state; /* RTNL */
	refcount_t refcnt;
	struct net *nd_net;	     /* holds a passive reference */
	struct list_head dev_list;   /* nd_net->dev_base_head; RTNL, RCU for readers */
	struct list_head unreg_list; /* a batch being unregistered; RTNL */
	const struct net_device_ops *netdev_ops;
	const struct rtnl_link_ops *rtnl_link_ops;	 /* NULL: cannot be deleted by userspace */
	void (*priv_destructor)(struct net_device *dev); /* when the memory goes */
	_Alignas(16) unsigned char priv[];
};

/* A subscriber to device events; registered in one runtime. */
struct notifier_block {
	/* Returns 0 or -errno; a failure at NETDEV_REGISTER makes the registration fail. */
	int (*notifier_call)(struct notifier_block *nb, unsigned long event,
			     struct net_device *dev);
	struct list_head list; /* the runtime's netdev_chain; RTNL */
};

/* The runtime's device state (rt->netdev). */
struct netdev_state {
	/*
	 * RTNL. Protects every namespace's device list, ifindex and name tables, devices'
	 * registration state, and netdev_chain.
	 */
	struct mutex rtnl_mutex;
	struct list_head netdev_chain;
	struct pernet_operations loopback_net_ops;
	struct pernet_operations default_device_ops;
};

void rtnl_lock(struct nsbpf_runtime *rt);
void rtnl_unlock(struct nsbpf_runtime *rt);
#define ASSERT_RTNL(rt) lockdep_assert_held(&(rt)->netdev.rtnl_mutex)

static inline void *netdev_priv(struct net_device *dev)
{
	return dev->priv;
}

static inline struct net *dev_net(const struct net_device *dev)
{
	return dev->nd_net;
}

/* Before registration only: moves the device's passive reference to @net. */
void dev_net_set(struct net_device *dev, struct net *net);

static inline void dev_hold(struct net_device *dev)
{
	refcount_inc(&dev->refcnt);
}

void dev_put(struct net_device *dev);

/*
 * A device named @name (may hold one "%d", replaced by the lowest free number at
 * registration), set up by @setup, with @sizeof_priv bytes of zeroed driver data.
 */
struct net_device *alloc_netdev(size_t sizeof_priv, const char *name,
				void (*setup)(struct net_device *dev));
/* Drops the owner's reference of a device that is not registered. */
void free_netdev(struct net_device *dev);

/*
 * Lists the device in its namespace. -EINVAL (bad name), -EEXIST (name taken), -EBUSY
 * (requested ifindex taken), -ENFILE (no free number for "%d"), an ndo_init or notifier error.
 * Must be called with RTNL held.
 */
int register_netdevice(struct net_device *dev);
/* As register_netdevice(), taking RTNL. */
int register_netdev(struct net_device *dev);

/*
 * Queues the device on @head for unregister_netdevice_many(), or with @head NULL unregisters it
 * now. Must be called with RTNL held.
 */
void unregister_netdevice_queue(struct net_device *dev, struct list_head *head);
/*
 * Unregisters every device of @head (linked by unreg_list) as one batch: unlists them, waits
 * for RCU readers, sends NETDEV_UNREGISTER and runs ndo_uninit, waits again, drops the
 * namespace's references. Leaves @head empty. Must be called with RTNL held.
 */
void unregister_netdevice_many(struct list_head *head);

static inline void unregister_netdevice(struct net_device *dev)
{
	unregister_netdevice_queue(dev, NULL);
}

/* Takes RTNL. */
void unregister_netdev(struct net_device *dev);

/* Must be called with RTNL held; no reference taken. */
struct net_device *__dev_get_by_index(struct net *net, int ifindex);
struct net_device *__dev_get_by_name(struct net *net, const char *name);
/* Must be called under rcu_read_lock(); no reference taken. */
struct net_device *dev_get_by_index_rcu(struct net *net, int ifindex);
/* Take RTNL (so not with it held); return a held device or NULL. */
struct net_device *dev_get_by_index(struct net *net, int ifindex);
struct net_device *dev_get_by_name(struct net *net, const char *name);

#define for_each_netdev(net, d)	    list_for_each_entry(d, &(net)->dev_base_head, dev_list)
#define for_each_netdev_rcu(net, d) list_for_each_entry_rcu(d, &(net)->dev_base_head, dev_list)

/*
 * Subscribes @nb and replays NETDEV_REGISTER for every device that exists; unsubscribing
 * replays NETDEV_UNREGISTER. Take pernet_ops_rwsem and RTNL.
 */
int register_netdevice_notifier(struct nsbpf_runtime *rt, struct notifier_block *nb);
void unregister_netdevice_notifier(struct nsbpf_runtime *rt, struct notifier_block *nb);

/* loopback.c: the pernet device op that gives every namespace its lo. */
void loopback_net_ops_init(struct pernet_operations *ops);

/*
 * dummy.c: "ip link add NAME type dummy". Returns the new device's ifindex, or -errno as
 * register_netdevice(). Takes RTNL.
 */
int dummy_dev_create(struct net *net, const char *name);

int net_dev_init(struct nsbpf_runtime *rt);
void net_dev_exit(struct nsbpf_runtime *rt);

#endif /* NSBPF_CORE_DEV_H */
