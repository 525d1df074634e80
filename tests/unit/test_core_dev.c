// SPDX-License-Identifier: MIT
/*
 * test_core_dev.c - network devices: lo with ifindex 1 in every namespace, ifindexes cyclic
 * per namespace, names and "%d" templates, lookups, deletion, the notifier chain (replayed on
 * subscription, told of every device a dying namespace takes with it), and references that
 * outlive a device's registration.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/runtime.h"

static int setup(void **state)
{
	struct nsbpf_runtime *rt;

	if (nsbpf_runtime_new(NULL, &rt))
		return -1;
	*state = rt;
	return 0;
}

static int teardown(void **state)
{
	nsbpf_runtime_free(*state);
	return 0;
}

static struct nsbpf_net *new_netns(struct nsbpf_runtime *rt)
{
	struct net *net;

	assert_int_equal(copy_net_ns(CLONE_NEWNET, rt->netns.init_net, &net), 0);
	return net_to_handle(net);
}

static void test_loopback_everywhere(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_net *nets[5];
	char name[IFNAMSIZ];
	struct net_device *lo;
	int i;

	assert_int_equal(nsbpf_net_get_init(rt, &nets[0]), 0);
	for (i = 1; i < 5; i++)
		nets[i] = new_netns(rt);
	for (i = 0; i < 5; i++) {
		struct net *net = net_from_handle(nets[i]);

		assert_int_equal(nsbpf_net_dev_ifindex(nets[i], "lo"), LOOPBACK_IFINDEX);
		assert_int_equal(nsbpf_net_dev_name(nets[i], 1, name, sizeof(name)), 0);
		assert_string_equal(name, "lo");
		lo = dev_get_by_index(net, 1);
		assert_non_null(lo);
		assert_ptr_equal(lo, net->loopback_dev);
		assert_ptr_equal(dev_net(lo), net);
		assert_true(lo->flags & IFF_LOOPBACK);
		/* Down until someone brings it up, as the kernel's default. */
		assert_false(lo->flags & IFF_UP);
		dev_put(lo);
		/* lo is its namespace's own: one device per namespace. */
		assert_ptr_equal(list_first_entry(&net->dev_base_head, struct net_device, dev_list),
				 net->loopback_dev);
		assert_true(net->dev_base_head.next->next == &net->dev_base_head);
	}
	assert_ptr_not_equal(net_from_handle(nets[1])->loopback_dev,
			     net_from_handle(nets[2])->loopback_dev);
	assert_int_equal(nsbpf_net_dev_del(nets[1], 1), -EOPNOTSUPP);
	for (i = 0; i < 5; i++)
		nsbpf_net_put(nets[i]);
}

static void test_add_lookup_delete(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_net *net = new_netns(rt), *other = new_netns(rt);
	char name[IFNAMSIZ];
	int ifindex;

	assert_int_equal(nsbpf_net_dev_add(net, "dummy0", &ifindex), 0);
	assert_int_equal(ifindex, 2);
	assert_int_equal(nsbpf_net_dev_add(net, "dummy0", NULL), -EEXIST);
	assert_int_equal(nsbpf_net_dev_add(net, "eth1", &ifindex), 0);
	assert_int_equal(ifindex, 3);
	/* Another namespace has its own names and numbers. */
	assert_int_equal(nsbpf_net_dev_add(other, "dummy0", &ifindex), 0);
	assert_int_equal(ifindex, 2);

	assert_int_equal(nsbpf_net_dev_ifindex(net, "eth1"), 3);
	assert_int_equal(nsbpf_net_dev_ifindex(net, "eth9"), -ENODEV);
	assert_int_equal(nsbpf_net_dev_name(net, 2, name, sizeof(name)), 0);
	assert_string_equal(name, "dummy0");
	assert_int_equal(nsbpf_net_dev_name(net, 2, name, 6), -ERANGE);
	assert_int_equal(nsbpf_net_dev_name(net, 7, name, sizeof(name)), -ENODEV);

	assert_int_equal(nsbpf_net_dev_del(net, 2), 0);
	assert_int_equal(nsbpf_net_dev_del(net, 2), -ENODEV);
	assert_int_equal(nsbpf_net_dev_ifindex(net, "dummy0"), -ENODEV);
	/* ifindexes are cyclic: 2 is not handed out again yet. */
	assert_int_equal(nsbpf_net_dev_add(net, "dummy0", &ifindex), 0);
	assert_int_equal(ifindex, 4);
	assert_int_equal(nsbpf_net_dev_ifindex(other, "dummy0"), 2);

	nsbpf_net_put(net);
	nsbpf_net_put(other);
}

static void test_names(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "a/b", "a:b", "a b", "a\tb", "0123456789abcdef", "a%s", "a%d%d",
	};
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_net *net = new_netns(rt);
	char name[IFNAMSIZ];
	unsigned int i;
	int ifindex;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(nsbpf_net_dev_add(net, bad[i], NULL), -EINVAL);
	assert_int_equal(nsbpf_net_dev_add(net, "0123456789abcde", NULL), 0);

	/* "%d": the lowest number no device uses. */
	assert_int_equal(nsbpf_net_dev_add(net, "veth%d", &ifindex), 0);
	assert_int_equal(nsbpf_net_dev_name(net, ifindex, name, sizeof(name)), 0);
	assert_string_equal(name, "veth0");
	assert_int_equal(nsbpf_net_dev_add(net, "veth2", NULL), 0);
	assert_int_equal(nsbpf_net_dev_add(net, "veth%d", &ifindex), 0);
	assert_int_equal(nsbpf_net_dev_name(net, ifindex, name, sizeof(name)), 0);
	assert_string_equal(name, "veth1");
	assert_int_equal(nsbpf_net_dev_add(net, "veth%d", &ifindex), 0);
	assert_int_equal(nsbpf_net_dev_name(net, ifindex, name, sizeof(name)), 0);
	assert_string_equal(name, "veth3");
	nsbpf_net_put(net);
}

static void test_requested_ifindex(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *net = net_from_handle(new_netns(rt));
	struct net_device *dev;

	dev = alloc_netdev(0, "x", NULL);
	dev_net_set(dev, net);
	dev->ifindex = 1; /* lo's */
	assert_int_equal(register_netdev(dev), -EBUSY);
	dev->ifindex = 100;
	assert_int_equal(register_netdev(dev), 0);
	assert_int_equal(dev->ifindex, 100);
	unregister_netdev(dev);
	put_net(net);
}

/* The packet path's lookup, under RCU on a registered thread. */
static void test_rcu_lookup(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_net *h = new_netns(rt);
	struct net *net = net_from_handle(h);
	struct net_device *dev;
	int ifindex, n = 0;

	assert_int_equal(nsbpf_net_dev_add(h, "d0", &ifindex), 0);
	rcu_register_thread();
	rcu_read_lock();
	dev = dev_get_by_index_rcu(net, ifindex);
	assert_non_null(dev);
	assert_string_equal(dev->name, "d0");
	assert_null(dev_get_by_index_rcu(net, 0));
	assert_null(dev_get_by_index_rcu(net, -1));
	for_each_netdev_rcu(net, dev)
		n++;
	rcu_read_unlock();
	rcu_unregister_thread();
	assert_int_equal(n, 2);
	nsbpf_net_put(h);
}

/* A notifier that records events as "REG(n0:lo)" / "UNREG(n0:lo)". */
static char events[4096];
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *refuse_name;

static int record_event(struct notifier_block *nb, unsigned long event, struct net_device *dev)
{
	unsigned int inum = dev_net(dev)->ns.inum;
	size_t len;

	(void)nb;
	if (event == NETDEV_REGISTER && refuse_name && !strcmp(dev->name, refuse_name))
		return -EPERM;
	pthread_mutex_lock(&events_lock);
	len = strlen(events);
	snprintf(events + len, sizeof(events) - len, "%s%s(%s:%s)", len ? " " : "",
		 event == NETDEV_REGISTER ? "REG" : "UNREG",
		 inum == PROC_NET_INIT_INO    ? "init"
		 : inum == PROC_DYNAMIC_FIRST ? "n0"
					      : "n1",
		 dev->name);
	pthread_mutex_unlock(&events_lock);
	return 0;
}

#define assert_events(expected)                                                                    \
	do {                                                                                       \
		assert_string_equal(events, expected);                                             \
		events[0] = '\0';                                                                  \
	} while (0)

static void test_notifier(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct notifier_block nb = { .notifier_call = record_event };
	struct nsbpf_net *n0 = new_netns(rt), *n1;
	int ifindex;

	events[0] = '\0';
	refuse_name = NULL;
	assert_int_equal(nsbpf_net_dev_add(n0, "d0", NULL), 0);
	assert_int_equal(register_netdevice_notifier(rt, &nb), 0);
	/* Replayed for what exists, namespace by namespace. */
	assert_events("REG(init:lo) REG(n0:lo) REG(n0:d0)");

	n1 = new_netns(rt);
	assert_int_equal(nsbpf_net_dev_add(n1, "d1", &ifindex), 0);
	assert_events("REG(n1:lo) REG(n1:d1)");
	assert_int_equal(nsbpf_net_dev_del(n1, ifindex), 0);
	assert_events("UNREG(n1:d1)");

	/* A notifier may refuse a device: the registration fails and leaves nothing behind. */
	refuse_name = "bad";
	assert_int_equal(nsbpf_net_dev_add(n1, "bad", NULL), -EPERM);
	assert_int_equal(nsbpf_net_dev_ifindex(n1, "bad"), -ENODEV);
	assert_events("UNREG(n1:bad)");
	refuse_name = NULL;

	/* A dying namespace takes its devices along, last registered first, lo last. */
	assert_int_equal(nsbpf_net_dev_add(n0, "d2", NULL), 0);
	assert_events("REG(n0:d2)");
	nsbpf_net_put(n0);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_events("UNREG(n0:d2) UNREG(n0:d0) UNREG(n0:lo)");

	unregister_netdevice_notifier(rt, &nb);
	assert_events("UNREG(init:lo) UNREG(n1:lo)");
	nsbpf_net_put(n1);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_events("");
}

static void test_held_device_outlives_namespace(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_net *h = new_netns(rt);
	struct net *net = net_from_handle(h);
	struct net_device *dev;
	int ifindex;

	assert_int_equal(nsbpf_net_dev_add(h, "d0", &ifindex), 0);
	dev = dev_get_by_index(net, ifindex);
	assert_non_null(dev);
	assert_int_equal(dev->reg_state, NETREG_REGISTERED);
	nsbpf_net_put(h);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	/* Unregistered with its namespace; its memory, and the namespace's, still there. */
	assert_int_equal(dev->reg_state, NETREG_UNREGISTERED);
	assert_false(check_net(dev_net(dev)));
	assert_null(net->loopback_dev);
	dev_put(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_loopback_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_lookup_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requested_ifindex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcu_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_device_outlives_namespace, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
