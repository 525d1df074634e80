// SPDX-License-Identifier: MIT
/*
 * dev.c - network devices: registration into a namespace (name, ifindex, lists), batched
 * unregistration, lookups, the netdevice notifier chain, and the pernet device op that
 * unregisters whatever devices a dying namespace still has, following net/core/dev.c.
 *
 * Unregistration mirrors unregister_netdevice_many(): unlist every device of the batch, wait
 * once for RCU readers (the packet path finds devices with dev_get_by_index_rcu()), tell the
 * notifiers (the XDP layer detaches programs there), wait again, then drop the references.
 * A namespace's teardown hands all its devices to one such batch, and cleanup_net() hands the
 * devices of every namespace in its batch to one call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "runtime.h"

/* How many numbers a "%d" name template can take, as the kernel's 8 * PAGE_SIZE. */
#define MAX_NETDEVICES (8 * 4096)

void rtnl_lock(struct nsbpf_runtime *rt)
{
	mutex_lock(&rt->netdev.rtnl_mutex);
}

void rtnl_unlock(struct nsbpf_runtime *rt)
{
	mutex_unlock(&rt->netdev.rtnl_mutex);
}

void dev_net_set(struct net_device *dev, struct net *net)
{
	net_passive_inc(net);
	if (dev->nd_net)
		net_passive_dec(dev->nd_net);
	dev->nd_net = net;
}

static void netdev_free(struct net_device *dev)
{
	if (dev->priv_destructor)
		dev->priv_destructor(dev);
	if (dev->nd_net)
		net_passive_dec(dev->nd_net);
	free(dev);
}

void dev_put(struct net_device *dev)
{
	if (refcount_dec_and_test(&dev->refcnt))
		netdev_free(dev);
}

struct net_device *alloc_netdev(size_t sizeof_priv, const char *name,
				void (*setup)(struct net_device *dev))
{
	size_t len = strnlen(name, IFNAMSIZ);
	struct net_device *dev;

	if (len >= IFNAMSIZ)
		return NULL;
	dev = calloc(1, sizeof(*dev) + sizeof_priv);
	if (!dev)
		return NULL;
	refcount_set(&dev->refcnt, 1);
	memcpy(dev->name, name, len + 1);
	dev->mtu = 1500;
	INIT_LIST_HEAD(&dev->dev_list);
	INIT_LIST_HEAD(&dev->unreg_list);
	if (setup)
		setup(dev);
	return dev;
}

void free_netdev(struct net_device *dev)
{
	assert(dev->reg_state == NETREG_UNINITIALIZED);
	dev_put(dev);
}

/* As the kernel's dev_valid_name(): what ip(8) and sysfs can live with. */
static bool dev_valid_name(const char *name)
{
	if (!*name || strnlen(name, IFNAMSIZ) == IFNAMSIZ)
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (; *name; name++)
		if (*name == '/' || *name == ':' || *name == ' ' ||
		    (*name >= '\t' && *name <= '\r'))
			return false;
	return true;
}

/* Must be called with RTNL held. */
struct net_device *__dev_get_by_name(struct net *net, const char *name)
{
	struct net_device *dev;

	ASSERT_RTNL(net->rt);
	for_each_netdev(net, dev)
		if (!strncmp(dev->name, name, IFNAMSIZ))
			return dev;
	return NULL;
}

/*
 * Expands the one "%d" of @name to the lowest number no device of @net uses, into @res.
 * Must be called with RTNL held.
 */
static int dev_alloc_name_ns(struct net *net, const char *name, char *res)
{
	const char *p = strchr(name, '%');
	unsigned long *inuse;
	struct net_device *d;
	char buf[IFNAMSIZ];
	int i, err = -ENFILE;

	if (p[1] != 'd' || strchr(p + 2, '%'))
		return -EINVAL;
	inuse = calloc(MAX_NETDEVICES / (8 * sizeof(long)), sizeof(long));
	if (!inuse)
		return -ENOMEM;
	for_each_netdev(net, d) {
		if (sscanf(d->name, name, &i) != 1 || i < 0 || i >= MAX_NETDEVICES)
			continue;
		/* "veth01" scans as 1 too: count only names the template prints back. */
		snprintf(buf, sizeof(buf), name, i);
		if (!strncmp(buf, d->name, IFNAMSIZ))
			inuse[i / (8 * sizeof(long))] |= 1UL << (i % (8 * sizeof(long)));
	}
	for (i = 0; i < MAX_NETDEVICES; i++) {
		if (inuse[i / (8 * sizeof(long))] & (1UL << (i % (8 * sizeof(long)))))
			continue;
		snprintf(buf, sizeof(buf), name, i);
		/* A long prefix leaves no room for the digits: the name may already exist. */
		if (!__dev_get_by_name(net, buf)) {
			memcpy(res, buf, IFNAMSIZ);
			err = 0;
		}
		break;
	}
	free(inuse);
	return err;
}

/* Must be called with RTNL held. */
static int dev_get_valid_name(struct net *net, struct net_device *dev)
{
	if (!dev_valid_name(dev->name))
		return -EINVAL;
	if (strchr(dev->name, '%'))
		return dev_alloc_name_ns(net, dev->name, dev->name);
	if (__dev_get_by_name(net, dev->name))
		return -EEXIST;
	return 0;
}

/*
 * Reserves @ifindex, or with 0 the next one after the last handed out in @net (cyclic, from 1
 * to INT_MAX, as the kernel's dev_index_reserve()). Must be called with RTNL held.
 */
static int dev_index_reserve(struct net *net, int ifindex)
{
	int ret;

	if (ifindex < 0)
		return -EINVAL;
	if (!ifindex)
		return idr_alloc_cyclic(&net->dev_by_index, NULL, 1, 0);
	ret = idr_alloc(&net->dev_by_index, NULL, ifindex, ifindex + 1);
	return ret == -ENOSPC ? -EBUSY : ret;
}

/* From here on, lookups and RCU walkers find the device. Must be called with RTNL held. */
static void list_netdevice(struct net_device *dev)
{
	struct net *net = dev_net(dev);

	list_add_tail_rcu(&dev->dev_list, &net->dev_base_head);
	idr_replace(&net->dev_by_index, dev, dev->ifindex, NULL);
	net->dev_base_seq++;
}

/* Must be called with RTNL held; RCU readers may still hold the device until a grace period. */
static void unlist_netdevice(struct net_device *dev)
{
	struct net *net = dev_net(dev);

	list_del_rcu(&dev->dev_list);
	idr_remove(&net->dev_by_index, dev->ifindex);
	net->dev_base_seq++;
	if (net->loopback_dev == dev)
		WRITE_ONCE(net->loopback_dev, NULL);
}

/*
 * Must be called with RTNL held. At NETDEV_REGISTER the first failure stops the walk and is
 * returned; other events go to every subscriber.
 */
static int call_netdevice_notifiers(struct nsbpf_runtime *rt, unsigned long event,
				    struct net_device *dev)
{
	struct notifier_block *nb;
	int err;

	list_for_each_entry(nb, &rt->netdev.netdev_chain, list) {
		err = nb->notifier_call(nb, event, dev);
		if (err && event == NETDEV_REGISTER)
			return err;
	}
	return 0;
}

/*
 * The part of unregistration that registration's rollback shares: everything but dropping
 * the namespace's reference. Must be called with RTNL held.
 */
static void unregister_netdevice_many_notify(struct nsbpf_runtime *rt, struct list_head *head)
{
	struct net_device *dev;

	list_for_each_entry(dev, head, unreg_list) {
		unlist_netdevice(dev);
		dev->reg_state = NETREG_UNREGISTERING;
	}

	/* Nobody on the packet path holds these devices after this. */
	synchronize_rcu();

	list_for_each_entry(dev, head, unreg_list) {
		idr_reclaim(&dev_net(dev)->dev_by_index);
		call_netdevice_notifiers(rt, NETDEV_UNREGISTER, dev);
		if (dev->netdev_ops && dev->netdev_ops->ndo_uninit)
			dev->netdev_ops->ndo_uninit(dev);
	}

	/* Readers of whatever the notifiers unpublished are gone too. */
	synchronize_rcu();
}

int register_netdevice(struct net_device *dev)
{
	struct net *net = dev_net(dev);
	struct nsbpf_runtime *rt = net->rt;
	LIST_HEAD(single);
	int ret;

	ASSERT_RTNL(rt);
	if (dev->reg_state != NETREG_UNINITIALIZED)
		return -EINVAL;
	ret = dev_get_valid_name(net, dev);
	if (ret)
		return ret;
	if (dev->netdev_ops && dev->netdev_ops->ndo_init) {
		ret = dev->netdev_ops->ndo_init(dev);
		if (ret)
			return ret;
	}
	ret = dev_index_reserve(net, dev->ifindex);
	if (ret < 0)
		goto err_uninit;
	dev->ifindex = ret;

	list_netdevice(dev);
	dev->reg_state = NETREG_REGISTERED;
	ret = call_netdevice_notifiers(rt, NETDEV_REGISTER, dev);
	if (ret)
		goto err_rollback;
	return 0;

err_rollback:
	/* The owner keeps its reference and frees the device with free_netdev(). */
	list_add(&dev->unreg_list, &single);
	unregister_netdevice_many_notify(rt, &single);
	list_del_init(&dev->unreg_list);
	dev->reg_state = NETREG_UNINITIALIZED;
	dev->ifindex = 0;
	return ret;

err_uninit:
	if (dev->netdev_ops && dev->netdev_ops->ndo_uninit)
		dev->netdev_ops->ndo_uninit(dev);
	return ret;
}

int register_netdev(struct net_device *dev)
{
	struct nsbpf_runtime *rt = dev_net(dev)->rt;
	int err;

	rtnl_lock(rt);
	err = register_netdevice(dev);
	rtnl_unlock(rt);
	return err;
}

void unregister_netdevice_many(struct list_head *head)
{
	struct net_device *dev, *tmp;
	struct nsbpf_runtime *rt;

	if (list_empty(head))
		return;
	rt = dev_net(list_first_entry(head, struct net_device, unreg_list))->rt;
	ASSERT_RTNL(rt);

	unregister_netdevice_many_notify(rt, head);
	list_for_each_entry_safe(dev, tmp, head, unreg_list) {
		list_del_init(&dev->unreg_list);
		dev->reg_state = NETREG_UNREGISTERED;
		/* The namespace's reference: the memory goes with the last holder's. */
		dev_put(dev);
	}
}

void unregister_netdevice_queue(struct net_device *dev, struct list_head *head)
{
	LIST_HEAD(single);

	ASSERT_RTNL(dev_net(dev)->rt);
	if (head) {
		list_move_tail(&dev->unreg_list, head);
		return;
	}
	list_add(&dev->unreg_list, &single);
	unregister_netdevice_many(&single);
}

void unregister_netdev(struct net_device *dev)
{
	struct nsbpf_runtime *rt = dev_net(dev)->rt;

	rtnl_lock(rt);
	unregister_netdevice(dev);
	rtnl_unlock(rt);
}

struct net_device *__dev_get_by_index(struct net *net, int ifindex)
{
	ASSERT_RTNL(net->rt);
	return ifindex > 0 ? idr_find(&net->dev_by_index, ifindex) : NULL;
}

struct net_device *dev_get_by_index_rcu(struct net *net, int ifindex)
{
	return ifindex > 0 ? idr_find(&net->dev_by_index, ifindex) : NULL;
}

struct net_device *dev_get_by_index(struct net *net, int ifindex)
{
	struct net_device *dev;

	rtnl_lock(net->rt);
	dev = __dev_get_by_index(net, ifindex);
	if (dev)
		dev_hold(dev);
	rtnl_unlock(net->rt);
	return dev;
}

struct net_device *dev_get_by_name(struct net *net, const char *name)
{
	struct net_device *dev;

	rtnl_lock(net->rt);
	dev = __dev_get_by_name(net, name);
	if (dev)
		dev_hold(dev);
	rtnl_unlock(net->rt);
	return dev;
}

int register_netdevice_notifier(struct nsbpf_runtime *rt, struct notifier_block *nb)
{
	struct net_device *dev, *failed;
	struct net *net;
	int err = 0;

	/* pernet_ops_rwsem keeps namespaces from appearing half-announced meanwhile. */
	down_write(&rt->netns.pernet_ops_rwsem);
	rtnl_lock(rt);
	list_add_tail(&nb->list, &rt->netdev.netdev_chain);
	for_each_net(rt, net) {
		for_each_netdev(net, dev) {
			err = nb->notifier_call(nb, NETDEV_REGISTER, dev);
			if (err)
				goto rollback;
		}
	}
	goto out_unlock;

rollback:
	failed = dev;
	for_each_net(rt, net) {
		for_each_netdev(net, dev) {
			if (dev == failed)
				goto out_unlink;
			nb->notifier_call(nb, NETDEV_UNREGISTER, dev);
		}
	}
out_unlink:
	list_del(&nb->list);
out_unlock:
	rtnl_unlock(rt);
	up_write(&rt->netns.pernet_ops_rwsem);
	return err;
}

void unregister_netdevice_notifier(struct nsbpf_runtime *rt, struct notifier_block *nb)
{
	struct net_device *dev;
	struct net *net;

	down_write(&rt->netns.pernet_ops_rwsem);
	rtnl_lock(rt);
	list_del(&nb->list);
	for_each_net(rt, net)
		for_each_netdev(net, dev)
			nb->notifier_call(nb, NETDEV_UNREGISTER, dev);
	rtnl_unlock(rt);
	up_write(&rt->netns.pernet_ops_rwsem);
}

/*
 * A dying namespace unregisters every device it still has, last registered first, so lo goes
 * last. (The kernel moves physical devices back to init_net instead; nsbpf has only virtual
 * ones.) Must be called with RTNL held.
 */
static void default_device_exit_rtnl(struct net *net, struct list_head *dev_kill_list)
{
	struct net_device *dev, *aux;

	ASSERT_RTNL(net->rt);
	list_for_each_entry_safe_reverse(dev, aux, &net->dev_base_head, dev_list) {
		if (dev->rtnl_link_ops && dev->rtnl_link_ops->dellink)
			dev->rtnl_link_ops->dellink(dev, dev_kill_list);
		else
			unregister_netdevice_queue(dev, dev_kill_list);
	}
}

int net_dev_init(struct nsbpf_runtime *rt)
{
	struct netdev_state *nd = &rt->netdev;
	int err;

	mutex_init(&nd->rtnl_mutex);
	INIT_LIST_HEAD(&nd->netdev_chain);
	nd->default_device_ops = (struct pernet_operations){
		.exit_rtnl = default_device_exit_rtnl,
	};
	loopback_net_ops_init(&nd->loopback_net_ops);

	/*
	 * The kernel registers loopback first; either order gives lo the first init and the
	 * last unregistration (default_device_exit_rtnl() walks backwards), and this one
	 * leaves nothing to undo if lo cannot be created in init_net.
	 */
	err = register_pernet_device(rt, &nd->default_device_ops);
	if (err)
		goto err_destroy_rtnl;
	err = register_pernet_device(rt, &nd->loopback_net_ops);
	if (err)
		goto err_unregister_default;
	return 0;

err_unregister_default:
	unregister_pernet_device(rt, &nd->default_device_ops);
err_destroy_rtnl:
	mutex_destroy(&nd->rtnl_mutex);
	return err;
}

/* After net_ns_shutdown(): no namespace is left, so there is nothing to undo. */
void net_dev_exit(struct nsbpf_runtime *rt)
{
	struct netdev_state *nd = &rt->netdev;

	unregister_pernet_device(rt, &nd->loopback_net_ops);
	unregister_pernet_device(rt, &nd->default_device_ops);
	mutex_destroy(&nd->rtnl_mutex);
}

int nsbpf_net_dev_add(struct nsbpf_net *handle, const char *name, int *ifindex)
{
	int ret = dummy_dev_create(net_from_handle(handle), name);

	if (ret < 0)
		return ret;
	if (ifindex)
		*ifindex = ret;
	return 0;
}

int nsbpf_net_dev_del(struct nsbpf_net *handle, int ifindex)
{
	struct net *net = net_from_handle(handle);
	struct net_device *dev;
	LIST_HEAD(list_kill);
	int err = 0;

	rtnl_lock(net->rt);
	dev = __dev_get_by_index(net, ifindex);
	if (!dev) {
		err = -ENODEV;
		goto out_unlock;
	}
	if (!dev->rtnl_link_ops || !dev->rtnl_link_ops->dellink) {
		err = -EOPNOTSUPP;
		goto out_unlock;
	}
	dev->rtnl_link_ops->dellink(dev, &list_kill);
	unregister_netdevice_many(&list_kill);
out_unlock:
	rtnl_unlock(net->rt);
	return err;
}

int nsbpf_net_dev_ifindex(struct nsbpf_net *handle, const char *name)
{
	struct net *net = net_from_handle(handle);
	struct net_device *dev;
	int ret = -ENODEV;

	rtnl_lock(net->rt);
	dev = __dev_get_by_name(net, name);
	if (dev)
		ret = dev->ifindex;
	rtnl_unlock(net->rt);
	return ret;
}

int nsbpf_net_dev_name(struct nsbpf_net *handle, int ifindex, char *name, size_t size)
{
	struct net *net = net_from_handle(handle);
	struct net_device *dev;
	int err = 0;

	rtnl_lock(net->rt);
	dev = __dev_get_by_index(net, ifindex);
	if (!dev)
		err = -ENODEV;
	else if (strnlen(dev->name, IFNAMSIZ) >= size)
		err = -ERANGE;
	else
		memcpy(name, dev->name, strnlen(dev->name, IFNAMSIZ) + 1);
	rtnl_unlock(net->rt);
	return err;
}
