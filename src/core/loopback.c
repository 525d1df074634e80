// SPDX-License-Identifier: MIT
/*
 * loopback.c - the loopback device: every network namespace gets its own "lo", created by a
 * pernet device operation, as drivers/net/loopback.c does. It is never deleted on its own
 * (it has no link ops): default_device_exit_rtnl() unregisters it, last, when its namespace
 * dies.
 */
#include <errno.h>

#include "dev.h"

static void loopback_setup(struct net_device *dev)
{
	dev->flags = IFF_LOOPBACK;
	dev->mtu = 65536;
	/*
	 * The kernel gets ifindex 1 by registering lo first and BUG()s otherwise; asking for
	 * it makes a device registered before lo (a subsystem's init) fail instead.
	 */
	dev->ifindex = LOOPBACK_IFINDEX;
}

static int loopback_net_init(struct net *net)
{
	struct net_device *dev;
	int err;

	dev = alloc_netdev(0, "lo", loopback_setup);
	if (!dev)
		return -ENOMEM;
	dev_net_set(dev, net);
	err = register_netdev(dev);
	if (err)
		goto err_free_netdev;
	WRITE_ONCE(net->loopback_dev, dev);
	return 0;

err_free_netdev:
	free_netdev(dev);
	return err;
}

void loopback_net_ops_init(struct pernet_operations *ops)
{
	*ops = (struct pernet_operations){
		.init = loopback_net_init,
	};
}
