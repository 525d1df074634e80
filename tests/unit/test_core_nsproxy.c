// SPDX-License-Identifier: MIT
/*
 * test_core_nsproxy.c - tasks and their namespaces, through the public API where it reaches:
 * fork shares the nsproxy, unshare(CLONE_NEWNET) copies it (tasks left on the old one see no
 * change), setns switches, exit drops, and a namespace dies with its last task.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

static uint32_t task_netns_inum(struct nsbpf_task *task)
{
	struct nsbpf_net *net;
	uint32_t inum;

	assert_int_equal(nsbpf_task_get_net(task, &net), 0);
	inum = nsbpf_net_inum(net);
	nsbpf_net_put(net);
	return inum;
}

static struct nsproxy *nsproxy_of(struct nsbpf_task *task)
{
	return task_from_handle(task)->nsproxy;
}

static void test_fork_shares_init_nsproxy(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_task *a, *b, *c;

	assert_int_equal(nsbpf_task_new(rt, NULL, &a), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &b), 0);
	assert_int_equal(nsbpf_task_new(rt, a, &c), 0);
	assert_int_equal(nsbpf_task_pid(a), 1);
	assert_int_equal(nsbpf_task_pid(b), 2);
	assert_int_equal(nsbpf_task_pid(c), 3);
	assert_ptr_equal(nsproxy_of(a), rt->nsproxy.init_nsproxy);
	assert_ptr_equal(nsproxy_of(c), rt->nsproxy.init_nsproxy);
	assert_ptr_equal(nsproxy_of(a)->net_ns, rt->netns.init_net);
	assert_int_equal(nsproxy_of(a)->uts_ns->ns.inum, PROC_UTS_INIT_INO);
	assert_int_equal(nsproxy_of(a)->pid_ns_for_children->ns.inum, PROC_PID_INIT_INO);
	/* The runtime's reference, init_task's and three tasks'. */
	assert_int_equal(refcount_read(&rt->nsproxy.init_nsproxy->count), 5);
	assert_int_equal(task_netns_inum(a), PROC_NET_INIT_INO);
	nsbpf_task_exit(c);
	nsbpf_task_exit(b);
	nsbpf_task_exit(a);
	assert_int_equal(refcount_read(&rt->nsproxy.init_nsproxy->count), 2);
}

static void test_unshare_copy_on_write(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_task *a, *b, *child;
	struct nsproxy *before;
	struct net *net;

	assert_int_equal(nsbpf_task_new(rt, NULL, &a), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &b), 0);
	before = nsproxy_of(a);
	assert_ptr_equal(before, nsproxy_of(b));

	assert_int_equal(nsbpf_task_unshare(a, NSBPF_CLONE_NEWNET), 0);
	/* a has a new nsproxy with a new net and the same other namespaces ... */
	assert_ptr_not_equal(nsproxy_of(a), before);
	net = nsproxy_of(a)->net_ns;
	assert_ptr_not_equal(net, rt->netns.init_net);
	assert_int_equal(net->ns.inum, PROC_DYNAMIC_FIRST);
	assert_ptr_equal(nsproxy_of(a)->uts_ns, before->uts_ns);
	assert_int_equal(refcount_read(&nsproxy_of(a)->count), 1);
	assert_int_equal(refcount_read(&net->count), 1);
	/* ... and b, which shared the old one, is where it was. */
	assert_ptr_equal(nsproxy_of(b), before);
	assert_int_equal(task_netns_inum(b), PROC_NET_INIT_INO);

	/* A child of a is born in a's namespace and shares its nsproxy. */
	assert_int_equal(nsbpf_task_new(rt, a, &child), 0);
	assert_ptr_equal(nsproxy_of(child), nsproxy_of(a));
	assert_int_equal(task_netns_inum(child), PROC_DYNAMIC_FIRST);

	/* Unsharing again leaves the child alone in the first new net. */
	assert_int_equal(nsbpf_task_unshare(a, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(task_netns_inum(a), PROC_DYNAMIC_FIRST + 1);
	assert_int_equal(task_netns_inum(child), PROC_DYNAMIC_FIRST);

	/* The first new net dies with its last task. */
	nsbpf_task_exit(child);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(rt->netns.nr_net_namespaces, 1);
	nsbpf_task_exit(a);
	nsbpf_task_exit(b);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(rt->netns.nr_net_namespaces, 0);
}

static void test_unshare_flags(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_task *a;
	struct nsproxy *before;

	assert_int_equal(nsbpf_task_new(rt, NULL, &a), 0);
	before = nsproxy_of(a);
	assert_int_equal(nsbpf_task_unshare(a, 0), 0);
	assert_ptr_equal(nsproxy_of(a), before);
	/* CLONE_NEWUTS, CLONE_NEWNS: namespaces nsbpf does not model. */
	assert_int_equal(nsbpf_task_unshare(a, 0x04000000), -EINVAL);
	assert_int_equal(nsbpf_task_unshare(a, NSBPF_CLONE_NEWNET | 0x00020000), -EINVAL);
	assert_ptr_equal(nsproxy_of(a), before);
	nsbpf_task_exit(a);
}

static void test_setns(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_task *a, *b;
	struct nsbpf_net *a_net, *init;
	struct nsproxy *b_before;

	assert_int_equal(nsbpf_task_new(rt, NULL, &a), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &b), 0);
	assert_int_equal(nsbpf_task_unshare(a, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(nsbpf_task_get_net(a, &a_net), 0);

	/* b joins a's namespace: a new nsproxy for b, the old one untouched. */
	b_before = nsproxy_of(b);
	assert_int_equal(nsbpf_task_setns(b, a_net, NSBPF_CLONE_NEWNET), 0);
	assert_ptr_not_equal(nsproxy_of(b), b_before);
	assert_ptr_equal(nsproxy_of(b)->net_ns, nsproxy_of(a)->net_ns);
	assert_ptr_equal(rt->nsproxy.init_nsproxy->net_ns, rt->netns.init_net);
	/* a's nsproxy, b's and the handle. */
	assert_int_equal(refcount_read(&net_from_handle(a_net)->count), 3);

	assert_int_equal(nsbpf_task_setns(b, a_net, 0x04000000), -EINVAL);

	/* Both go back to init_net; the handle alone keeps a's namespace alive. */
	assert_int_equal(nsbpf_net_get_init(rt, &init), 0);
	assert_int_equal(nsbpf_task_setns(a, init, 0), 0);
	assert_int_equal(nsbpf_task_setns(b, init, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_true(check_net(net_from_handle(a_net)));
	assert_int_equal(rt->netns.nr_net_namespaces, 1);
	nsbpf_net_put(a_net);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(rt->netns.nr_net_namespaces, 0);

	nsbpf_net_put(init);
	nsbpf_task_exit(a);
	nsbpf_task_exit(b);
}

static void test_setns_other_runtime(void **state)
{
	struct nsbpf_runtime *rt = *state, *other;
	struct nsbpf_net *foreign;
	struct nsbpf_task *a;

	assert_int_equal(nsbpf_runtime_new(NULL, &other), 0);
	assert_int_equal(nsbpf_net_get_init(other, &foreign), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &a), 0);
	assert_int_equal(nsbpf_task_setns(a, foreign, 0), -EINVAL);
	nsbpf_task_exit(a);
	nsbpf_net_put(foreign);
	nsbpf_runtime_free(other);
}

static void test_clone_newnet(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct task_struct *p;

	assert_int_equal(copy_process(&rt->tasks.init_task, CLONE_NEWNET, &p), 0);
	assert_ptr_not_equal(p->nsproxy, rt->nsproxy.init_nsproxy);
	assert_int_equal(p->nsproxy->net_ns->ns.inum, PROC_DYNAMIC_FIRST);
	assert_int_equal(refcount_read(&rt->nsproxy.init_nsproxy->count), 2);
	do_exit(p);
	assert_int_equal(copy_process(&rt->tasks.init_task, 0x04000000, &p), -EINVAL);
}

static void test_pids(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_task *t[3];
	struct task_struct *found;

	assert_int_equal(nsbpf_task_new(rt, NULL, &t[0]), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &t[1]), 0);
	found = find_get_task_by_vpid(rt, 2);
	assert_ptr_equal(found, task_from_handle(t[1]));
	put_task_struct(found);
	nsbpf_task_exit(t[1]);
	assert_null(find_get_task_by_vpid(rt, 2));
	/* Cyclic: 2 is not reused yet. */
	assert_int_equal(nsbpf_task_new(rt, NULL, &t[2]), 0);
	assert_int_equal(nsbpf_task_pid(t[2]), 3);
	nsbpf_task_exit(t[0]);
	nsbpf_task_exit(t[2]);
}

/* A task the embedder never exits is exited by nsbpf_runtime_free(), its namespace torn down. */
static void test_runtime_free_exits_tasks(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *a;
	struct nsbpf_net *leaked;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &a), 0);
	assert_int_equal(nsbpf_task_unshare(a, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(nsbpf_task_get_net(a, &leaked), 0);
	nsbpf_runtime_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fork_shares_init_nsproxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unshare_copy_on_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unshare_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setns_other_runtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_newnet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pids, setup, teardown),
		cmocka_unit_test(test_runtime_free_exits_tasks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
