// SPDX-License-Identifier: MIT
/*
 * dummy.c - the dummy device (drivers/net/dummy.c): a device that exists and does nothing,
 * which is what the runtime's users create when they need an interface to attach to ("ip link
 * add NAME type dummy"). Its link ops make it deletable.
 */
#include <errno.h>
#include <string.h>

#include "dev.h"
#include "runtime.h"

static const struct rtnl_link_ops dummy_link_ops = {
	.kind = "dummy",
	.dellink = unregister_netdevice_queue,
};

static void dummy_setup(struct net_device *dev)
{
	dev->rtnl_link_ops = &dummy_link_ops;
}

int dummy_dev_create(struct net *net, const char *name)
{
	struct net_device *dev;
	int err;

	dev = alloc_netdev(0, name, dummy_setup);
	if (!dev)
		return strnlen(name, IFNAMSIZ) >= IFNAMSIZ ? -EINVAL : -ENOMEM;
	dev_net_set(dev, net);

	rtnl_lock(net->rt);
	err = register_netdevice(dev);
	if (!err)
		err = dev->ifindex;
	rtnl_unlock(net->rt);

	if (err < 0)
		free_netdev(dev);
	return err;
}
