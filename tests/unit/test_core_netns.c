// SPDX-License-Identifier: MIT
/*
 * test_core_netns.c - network namespaces and pernet operations. The operations registered
 * here record every call into a log ("A.init(n0)"), and the tests compare the log with the
 * kernel's order: registration on existing namespaces, creation, a failing init unwinding the
 * ones before it, teardown (pre_exit, grace period, exit + exit_batch per op, free, all in
 * reverse), batching, unregistration; then count/passive, inode numbers and the limit.
 *
 * Namespaces are named in the log by inode number: "init" for init_net, "nK" for
 * PROC_DYNAMIC_FIRST + K.
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

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[16384];
/* Problems seen inside callbacks (which may run on the netns worker, where cmocka can't
 * assert); checked by the tests afterwards. */
static int cb_errors;

/* Which op's init fails, with what, and for which namespace (0: every new one). */
static const char *fail_op;
static int fail_err;
static unsigned int fail_inum;

static void net_name(const struct net *net, char *buf, size_t size)
{
	if (net->ns.inum == PROC_NET_INIT_INO)
		snprintf(buf, size, "init");
	else
		snprintf(buf, size, "n%u", net->ns.inum - PROC_DYNAMIC_FIRST);
}

static void log_append(const char *fmt, ...)
{
	size_t len;
	va_list ap;

	pthread_mutex_lock(&log_lock);
	len = strlen(log_buf);
	if (len)
		log_buf[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(log_buf + len, sizeof(log_buf) - len, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_buf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

#define assert_log(expected)                                                                       \
	do {                                                                                       \
		assert_string_equal(log_buf, expected);                                            \
		log_reset();                                                                       \
	} while (0)

static void op_event(const char *op, const char *event, struct net *net)
{
	char name[16];

	net_name(net, name, sizeof(name));
	log_append("%s.%s(%s)", op, event, name);
}

static int op_init(const char *op, struct net *net)
{
	op_event(op, "init", net);
	if (fail_op && !strcmp(fail_op, op) && (!fail_inum || fail_inum == net->ns.inum))
		return fail_err;
	return 0;
}

static void op_batch(const char *op, struct list_head *net_exit_list)
{
	char buf[512] = "", name[16];
	struct net *net;

	list_for_each_entry(net, net_exit_list, exit_list) {
		net_name(net, name, sizeof(name));
		if (buf[0])
			strcat(buf, ",");
		strcat(buf, name);
	}
	log_append("%s.exit_batch[%s]", op, buf);
}

#define LOGGED_PERNET_OPS(X)                                                                       \
	static int X##_init(struct net *net)                                                       \
	{                                                                                          \
		return op_init(#X, net);                                                           \
	}                                                                                          \
	static void X##_pre_exit(struct net *net)                                                  \
	{                                                                                          \
		op_event(#X, "pre_exit", net);                                                     \
	}                                                                                          \
	static void X##_exit(struct net *net)                                                      \
	{                                                                                          \
		op_event(#X, "exit", net);                                                         \
	}                                                                                          \
	static void X##_exit_batch(struct list_head *net_exit_list)                                \
	{                                                                                          \
		op_batch(#X, net_exit_list);                                                       \
	}                                                                                          \
	static void X##_free(struct net *net)                                                      \
	{                                                                                          \
		op_event(#X, "free", net);                                                         \
	}                                                                                          \
	static struct pernet_operations X##_ops = {                                                \
		.init = X##_init,                                                                  \
		.pre_exit = X##_pre_exit,                                                          \
		.exit = X##_exit,                                                                  \
		.exit_batch = X##_exit_batch,                                                      \
		.free = X##_free,                                                                  \
	}

LOGGED_PERNET_OPS(A);
LOGGED_PERNET_OPS(B);
LOGGED_PERNET_OPS(C);
LOGGED_PERNET_OPS(D);

static int setup(void **state)
{
	struct nsbpf_runtime *rt;

	log_reset();
	cb_errors = 0;
	fail_op = NULL;
	fail_inum = 0;
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

static struct net *new_net(struct nsbpf_runtime *rt)
{
	struct net *net = NULL;

	assert_int_equal(copy_net_ns(CLONE_NEWNET, rt->netns.init_net, &net), 0);
	return net;
}

static void test_init_net(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *init_net = rt->netns.init_net;
	struct nsbpf_net *h;

	assert_int_equal(init_net->ns.inum, 0xEFFFFFF9U);
	assert_int_equal(init_net->net_cookie, 1);
	assert_int_equal(nsbpf_net_get_init(rt, &h), 0);
	assert_int_equal(nsbpf_net_inum(h), 0xEFFFFFF9U);
	assert_int_equal(nsbpf_net_cookie(h), 1);
	nsbpf_net_put(h);
	assert_true(check_net(init_net));
}

static void test_register_on_existing_nets(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *n0 = new_net(rt), *n1 = new_net(rt);

	assert_int_equal(register_pernet_subsys(rt, &A_ops), 0);
	/* In namespace list order: init_net first, then creation order. */
	assert_log("A.init(init) A.init(n0) A.init(n1)");

	unregister_pernet_subsys(rt, &A_ops);
	assert_log("A.pre_exit(init) A.pre_exit(n0) A.pre_exit(n1) "
		   "A.exit(init) A.exit(n0) A.exit(n1) A.exit_batch[init,n0,n1] "
		   "A.free(init) A.free(n0) A.free(n1)");

	put_net(n0);
	put_net(n1);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_log("");
}

static void test_create_and_teardown_order(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *net;

	assert_int_equal(register_pernet_subsys(rt, &A_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &B_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &C_ops), 0);
	log_reset();

	net = new_net(rt);
	assert_log("A.init(n0) B.init(n0) C.init(n0)");

	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_log("C.pre_exit(n0) B.pre_exit(n0) A.pre_exit(n0) "
		   "C.exit(n0) C.exit_batch[n0] B.exit(n0) B.exit_batch[n0] "
		   "A.exit(n0) A.exit_batch[n0] "
		   "C.free(n0) B.free(n0) A.free(n0)");
}

/* The kth of four inits fails: the k-1 before it are undone, in reverse, and nothing else. */
static void check_failing_init(struct nsbpf_runtime *rt, const char *op, const char *expected)
{
	unsigned int nr = rt->netns.nr_net_namespaces;
	struct net *net = NULL;

	fail_op = op;
	fail_err = -EDOM;
	assert_int_equal(copy_net_ns(CLONE_NEWNET, rt->netns.init_net, &net), -EDOM);
	assert_null(net);
	assert_log(expected);
	assert_int_equal(rt->netns.nr_net_namespaces, nr);
	fail_op = NULL;
}

static void test_failing_init_unwinds(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *net;

	assert_int_equal(register_pernet_subsys(rt, &A_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &B_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &C_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &D_ops), 0);
	log_reset();

	check_failing_init(rt, "A", "A.init(n0)");
	check_failing_init(rt, "C",
			   "A.init(n0) B.init(n0) C.init(n0) "
			   "B.pre_exit(n0) A.pre_exit(n0) "
			   "B.exit(n0) B.exit_batch[n0] A.exit(n0) A.exit_batch[n0] "
			   "B.free(n0) A.free(n0)");
	check_failing_init(rt, "D",
			   "A.init(n0) B.init(n0) C.init(n0) D.init(n0) "
			   "C.pre_exit(n0) B.pre_exit(n0) A.pre_exit(n0) "
			   "C.exit(n0) C.exit_batch[n0] B.exit(n0) B.exit_batch[n0] "
			   "A.exit(n0) A.exit_batch[n0] "
			   "C.free(n0) B.free(n0) A.free(n0)");

	/* The failed namespaces gave their inode number back. */
	net = new_net(rt);
	assert_int_equal(net->ns.inum, PROC_DYNAMIC_FIRST);
	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
}

static void test_failing_register_unwinds(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *n0 = new_net(rt), *n1 = new_net(rt), *n2;

	fail_op = "A";
	fail_err = -ENOMEM;
	fail_inum = n1->ns.inum;
	assert_int_equal(register_pernet_subsys(rt, &A_ops), -ENOMEM);
	assert_log("A.init(init) A.init(n0) A.init(n1) "
		   "A.pre_exit(init) A.pre_exit(n0) "
		   "A.exit(init) A.exit(n0) A.exit_batch[init,n0] "
		   "A.free(init) A.free(n0)");
	fail_op = NULL;

	/* Not registered: a new namespace does not see it. */
	n2 = new_net(rt);
	assert_log("");
	put_net(n0);
	put_net(n1);
	put_net(n2);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_log("");
}

static void test_subsys_before_device(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *net;

	/* Subsystems go before every device op (lo's included), devices after, whatever the
	 * order of registration. */
	assert_int_equal(register_pernet_subsys(rt, &A_ops), 0);
	assert_int_equal(register_pernet_device(rt, &B_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &C_ops), 0);
	assert_int_equal(register_pernet_device(rt, &D_ops), 0);
	log_reset();

	net = new_net(rt);
	assert_log("A.init(n0) C.init(n0) B.init(n0) D.init(n0)");
	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_log("D.pre_exit(n0) B.pre_exit(n0) C.pre_exit(n0) A.pre_exit(n0) "
		   "D.exit(n0) D.exit_batch[n0] B.exit(n0) B.exit_batch[n0] "
		   "C.exit(n0) C.exit_batch[n0] A.exit(n0) A.exit_batch[n0] "
		   "D.free(n0) B.free(n0) C.free(n0) A.free(n0)");

	unregister_pernet_device(rt, &D_ops);
	unregister_pernet_subsys(rt, &C_ops);
	unregister_pernet_device(rt, &B_ops);
	unregister_pernet_subsys(rt, &A_ops);
	log_reset();
	net = new_net(rt);
	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_log("");
}

/* Where lo stands: subsystem inits run before it exists, device inits after. */
static int lo_seen_by_subsys, lo_seen_by_device;

static int lo_subsys_init(struct net *net)
{
	lo_seen_by_subsys = net->loopback_dev != NULL;
	return 0;
}

static int lo_device_init(struct net *net)
{
	lo_seen_by_device = net->loopback_dev != NULL;
	return 0;
}

static void test_loopback_between_subsys_and_device(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct pernet_operations subsys = { .init = lo_subsys_init };
	struct pernet_operations device = { .init = lo_device_init };
	struct net *net;

	assert_int_equal(register_pernet_device(rt, &device), 0);
	assert_int_equal(register_pernet_subsys(rt, &subsys), 0);
	net = new_net(rt);
	assert_false(lo_seen_by_subsys);
	assert_true(lo_seen_by_device);
	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
	unregister_pernet_subsys(rt, &subsys);
	unregister_pernet_device(rt, &device);
}

static void test_batched_teardown(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *n0, *n1, *n2;
	unsigned long batches;

	assert_int_equal(register_pernet_subsys(rt, &A_ops), 0);
	assert_int_equal(register_pernet_subsys(rt, &B_ops), 0);
	n0 = new_net(rt);
	n1 = new_net(rt);
	n2 = new_net(rt);
	log_reset();

	/* Hold the worker so that the three deaths meet in one cleanup_net() run. */
	workqueue_freeze(rt->netns.netns_wq);
	batches = rt->netns.cleanup_batches;
	put_net(n0);
	put_net(n1);
	put_net(n2);
	assert_log("");
	workqueue_thaw(rt->netns.netns_wq);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_int_equal(rt->netns.cleanup_batches, batches + 1);
	/* One pass over the ops for the whole batch, most recent death first (an llist). */
	assert_log("B.pre_exit(n2) B.pre_exit(n1) B.pre_exit(n0) "
		   "A.pre_exit(n2) A.pre_exit(n1) A.pre_exit(n0) "
		   "B.exit(n2) B.exit(n1) B.exit(n0) B.exit_batch[n2,n1,n0] "
		   "A.exit(n2) A.exit(n1) A.exit(n0) A.exit_batch[n2,n1,n0] "
		   "B.free(n2) B.free(n1) B.free(n0) "
		   "A.free(n2) A.free(n1) A.free(n0)");
}

/* Per-net private data: allocated zeroed before init, alive through free, gone after. */
struct pdata {
	unsigned int inum;
	unsigned char rest[60];
};

static unsigned int p_id;

static struct pdata *pdata(struct net *net)
{
	return net_generic(net, p_id);
}

static int P_init(struct net *net)
{
	struct pdata *d = pdata(net);
	unsigned int i;

	if (!d)
		cb_errors++;
	for (i = 0; d && i < sizeof(*d); i++)
		if (((unsigned char *)d)[i])
			cb_errors++;
	if (d)
		d->inum = net->ns.inum;
	return 0;
}

static void P_check(struct net *net)
{
	if (!pdata(net) || pdata(net)->inum != net->ns.inum)
		cb_errors++;
}

static struct pernet_operations P_ops = {
	.init = P_init,
	.pre_exit = P_check,
	.exit = P_check,
	.free = P_check,
	.id = &p_id,
	.size = sizeof(struct pdata),
};

/* More ids than a namespace's first net_generic array holds, to make it grow. */
static unsigned int many_ids[12];
static struct pernet_operations many_ops[12];

static void test_pernet_data(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *n0 = new_net(rt), *n1;
	unsigned int i;

	assert_int_equal(register_pernet_subsys(rt, &P_ops), 0);
	assert_true(p_id > 0);
	n1 = new_net(rt);
	assert_int_equal(pdata(n0)->inum, n0->ns.inum);
	assert_int_equal(pdata(n1)->inum, n1->ns.inum);
	assert_int_equal(pdata(rt->netns.init_net)->inum, PROC_NET_INIT_INO);

	for (i = 0; i < 12; i++) {
		many_ops[i] = (struct pernet_operations){ .id = &many_ids[i], .size = 8 + i };
		assert_int_equal(register_pernet_subsys(rt, &many_ops[i]), 0);
		assert_non_null(net_generic(n0, many_ids[i]));
	}
	assert_int_equal(pdata(n0)->inum, n0->ns.inum);
	for (i = 0; i < 12; i++)
		unregister_pernet_subsys(rt, &many_ops[i]);

	put_net(n0);
	put_net(n1);
	assert_int_equal(net_ns_barrier(rt), 0);
	unregister_pernet_subsys(rt, &P_ops);
	assert_int_equal(cb_errors, 0);

	/* An id and a size go together. */
	assert_int_equal(register_pernet_subsys(rt, &(struct pernet_operations){ .size = 8 }),
			 -EINVAL);
}

static void test_count_and_passive(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *net;

	assert_int_equal(register_pernet_subsys(rt, &A_ops), 0);
	net = new_net(rt);
	assert_int_equal(refcount_read(&net->count), 1);
	get_net(net);
	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
	log_reset();

	/* A passive holder keeps the memory, not the namespace. */
	net_passive_inc(net);
	put_net(net);
	assert_int_equal(net_ns_barrier(rt), 0);
	assert_log("A.pre_exit(n0) A.exit(n0) A.exit_batch[n0] A.free(n0)");
	assert_false(check_net(net));
	assert_null(maybe_get_net(net));
	assert_int_equal(net->ns.inum, PROC_DYNAMIC_FIRST);
	assert_int_equal(refcount_read(&net->passive), 1);
	net_passive_dec(net); /* the memory goes here; ASan checks nobody touches it after */
}

static void test_inum_and_cookie(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *n0 = new_net(rt), *n1 = new_net(rt), *n2;
	uint64_t cookie1 = n1->net_cookie;

	assert_int_equal(n0->ns.inum, PROC_DYNAMIC_FIRST);
	assert_int_equal(n1->ns.inum, PROC_DYNAMIC_FIRST + 1);
	assert_int_equal(n0->net_cookie, 2);
	assert_int_equal(cookie1, 3);
	put_net(n0);
	assert_int_equal(net_ns_barrier(rt), 0);
	/* The lowest free inode number comes back (the kernel's ida), the cookie never does. */
	n2 = new_net(rt);
	assert_int_equal(n2->ns.inum, PROC_DYNAMIC_FIRST);
	assert_int_equal(n2->net_cookie, 4);
	put_net(n1);
	put_net(n2);
	assert_int_equal(net_ns_barrier(rt), 0);
}

static void test_max_net_namespaces(void **state)
{
	NSBPF_RUNTIME_OPTS(opts, .max_net_namespaces = 2);
	struct nsbpf_runtime *rt;
	struct net *n0, *n1, *n2 = NULL;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(&opts, &rt), 0);
	n0 = new_net(rt);
	n1 = new_net(rt);
	assert_int_equal(copy_net_ns(CLONE_NEWNET, rt->netns.init_net, &n2), -ENOSPC);
	put_net(n0);
	/* Counted until torn down, as the kernel's ucounts. */
	assert_int_equal(net_ns_barrier(rt), 0);
	n2 = new_net(rt);
	put_net(n1);
	put_net(n2);
	nsbpf_runtime_free(rt);
}

/* Without CLONE_NEWNET, copy_net_ns() shares. */
static void test_copy_without_newnet(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct net *net = NULL;
	unsigned int count = refcount_read(&rt->netns.init_net->count);

	assert_int_equal(copy_net_ns(0, rt->netns.init_net, &net), 0);
	assert_ptr_equal(net, rt->netns.init_net);
	assert_int_equal(refcount_read(&net->count), count + 1);
	put_net(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_net, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_on_existing_nets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_and_teardown_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_init_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_register_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subsys_before_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_between_subsys_and_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batched_teardown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pernet_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_and_passive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inum_and_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_net_namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_without_newnet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
