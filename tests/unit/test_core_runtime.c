// SPDX-License-Identifier: MIT
/*
 * test_core_runtime.c - the runtime as a whole: its options struct (size-first, as libbpf's),
 * two runtimes in one process sharing nothing, used one after the other and at once, one
 * runtime churned from several threads while a reader walks it under RCU, and a runtime
 * tearing namespaces down in a forked child.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/runtime.h"

static void test_opts(void **state)
{
	struct {
		struct nsbpf_runtime_opts opts;
		uint64_t newer_field;
	} bigger = { 0 };
	NSBPF_RUNTIME_OPTS(opts);
	struct nsbpf_runtime *rt;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	nsbpf_runtime_free(rt);
	nsbpf_runtime_free(NULL);
	assert_int_equal(nsbpf_runtime_new(&opts, &rt), 0);
	nsbpf_runtime_free(rt);

	opts.sz = 4;
	assert_int_equal(nsbpf_runtime_new(&opts, &rt), -EINVAL);
	/* An older caller's smaller struct: what it lacks is zero. */
	opts.sz = sizeof(size_t);
	assert_int_equal(nsbpf_runtime_new(&opts, &rt), 0);
	nsbpf_runtime_free(rt);
	/* A newer caller's bigger struct: fine while the fields we don't know are zero. */
	bigger.opts.sz = sizeof(bigger);
	assert_int_equal(nsbpf_runtime_new(&bigger.opts, &rt), 0);
	nsbpf_runtime_free(rt);
	bigger.newer_field = 1;
	assert_int_equal(nsbpf_runtime_new(&bigger.opts, &rt), -EINVAL);
}

/* The same script in any runtime yields the same numbers. */
struct script_result {
	uint32_t init_inum, new_inum;
	uint64_t cgroup_id;
	int pid, ifindex;
};

static void run_script(struct nsbpf_runtime *rt, struct script_result *res)
{
	struct nsbpf_task *task;
	struct nsbpf_net *net, *init;
	struct nsbpf_cgroup *cg;

	assert_int_equal(nsbpf_net_get_init(rt, &init), 0);
	res->init_inum = nsbpf_net_inum(init);
	assert_int_equal(nsbpf_task_new(rt, NULL, &task), 0);
	res->pid = nsbpf_task_pid(task);
	assert_int_equal(nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(nsbpf_task_get_net(task, &net), 0);
	res->new_inum = nsbpf_net_inum(net);
	assert_int_equal(nsbpf_net_dev_add(net, "d0", &res->ifindex), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_open(rt, "/a", &cg), 0);
	res->cgroup_id = nsbpf_cgroup_id(cg);
	assert_int_equal(nsbpf_cgroup_attach_task(cg, task), 0);

	assert_int_equal(nsbpf_task_setns(task, init, 0), 0);
	nsbpf_net_put(net);
	nsbpf_net_put(init);
	nsbpf_task_exit(task);
	nsbpf_cgroup_put(cg);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
}

static int A_inits;

static int A_init(struct net *net)
{
	(void)net;
	A_inits++;
	return 0;
}

static void test_two_runtimes_independent(void **state)
{
	struct pernet_operations A_ops = { .init = A_init };
	struct nsbpf_runtime *rt1, *rt2;
	struct script_result r1, r2;
	struct nsbpf_task *t1, *t2;
	struct nsbpf_net *n1;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt1), 0);
	assert_int_equal(nsbpf_runtime_new(NULL, &rt2), 0);

	/* A pernet op registered in one runtime runs there only. */
	assert_int_equal(register_pernet_subsys(rt1, &A_ops), 0);
	assert_int_equal(A_inits, 1);
	assert_int_equal(nsbpf_task_new(rt2, NULL, &t2), 0);
	assert_int_equal(nsbpf_task_unshare(t2, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(A_inits, 1);

	/* A namespace of rt1 alive while rt2 runs the script: no number is shared. */
	assert_int_equal(nsbpf_task_new(rt1, NULL, &t1), 0);
	assert_int_equal(nsbpf_task_unshare(t1, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(A_inits, 2);
	assert_int_equal(nsbpf_task_get_net(t1, &n1), 0);
	assert_int_equal(nsbpf_net_inum(n1), PROC_DYNAMIC_FIRST);
	nsbpf_task_exit(t1);
	nsbpf_task_exit(t2);
	nsbpf_runtime_flush(rt2);

	run_script(rt2, &r2);
	assert_int_equal(r2.init_inum, PROC_NET_INIT_INO);
	assert_int_equal(r2.new_inum, PROC_DYNAMIC_FIRST);
	assert_int_equal(r2.pid, 2);
	assert_int_equal(r2.ifindex, 2);
	assert_int_equal(r2.cgroup_id, 2);

	/* rt1 goes away with a namespace still referenced; rt2 carries on. */
	nsbpf_runtime_free(rt1);
	run_script(rt2, &r1);
	assert_int_equal(r1.pid, 3);
	assert_int_equal(r1.new_inum, PROC_DYNAMIC_FIRST);
	assert_int_equal(r1.cgroup_id, 3);
	nsbpf_runtime_free(rt2);
}

static void *script_thread(void *arg)
{
	struct script_result *res = arg;
	struct nsbpf_runtime *rt;
	int i;

	if (nsbpf_runtime_new(NULL, &rt))
		return NULL;
	for (i = 0; i < 200; i++)
		run_script(rt, &res[i]);
	nsbpf_runtime_free(rt);
	return res;
}

/* Runtimes on different threads at once: each sees exactly what it would alone. */
static void test_concurrent_runtimes(void **state)
{
	static struct script_result res[4][200];
	pthread_t threads[4];
	void *ret;
	int i, j;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, script_thread, res[i]), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(threads[i], &ret), 0);
		assert_non_null(ret);
	}
	for (i = 0; i < 4; i++) {
		for (j = 0; j < 200; j++) {
			assert_int_equal(res[i][j].pid, j + 1);
			assert_int_equal(res[i][j].new_inum, PROC_DYNAMIC_FIRST);
			assert_int_equal(res[i][j].ifindex, 2);
			assert_int_equal(res[i][j].cgroup_id, j + 2);
		}
	}
}

struct churn_arg {
	struct nsbpf_runtime *rt;
	int id;
	int errors;
};

static bool stop_readers;

/* Control-plane churn: namespaces with devices, setns, cgroups, from one task per thread. */
static void *churn_thread(void *p)
{
	struct churn_arg *arg = p;
	struct nsbpf_runtime *rt = arg->rt;
	struct nsbpf_net *net, *init;
	struct nsbpf_cgroup *cg;
	struct nsbpf_task *task;
	char path[32];
	int i;

	snprintf(path, sizeof(path), "/t%d", arg->id);
	if (nsbpf_task_new(rt, NULL, &task) || nsbpf_net_get_init(rt, &init)) {
		arg->errors++;
		return NULL;
	}
	for (i = 0; i < 300; i++) {
		if (nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET) || nsbpf_task_get_net(task, &net))
			arg->errors++;
		if (nsbpf_net_dev_add(net, "d%d", NULL) || nsbpf_net_dev_add(net, "d%d", NULL))
			arg->errors++;
		if (nsbpf_net_dev_ifindex(net, "d1") != 3)
			arg->errors++;
		if (i % 2 && nsbpf_task_setns(task, init, 0))
			arg->errors++;
		nsbpf_net_put(net);
		if (nsbpf_cgroup_mkdir(rt, path) || nsbpf_cgroup_open(rt, path, &cg) ||
		    nsbpf_cgroup_attach_task(cg, task))
			arg->errors++;
		if (nsbpf_cgroup_rmdir(rt, path) != -EBUSY)
			arg->errors++;
		if (nsbpf_cgroup_attach_task(cg, task))
			arg->errors++;
		nsbpf_cgroup_put(cg);
		if (nsbpf_cgroup_open(rt, "/", &cg) || nsbpf_cgroup_attach_task(cg, task) ||
		    nsbpf_cgroup_rmdir(rt, path))
			arg->errors++;
		nsbpf_cgroup_put(cg);
	}
	nsbpf_net_put(init);
	nsbpf_task_exit(task);
	return NULL;
}

/* The packet path's view: every namespace and its lo, under RCU, never a lock. */
static void *rcu_reader_thread(void *p)
{
	struct churn_arg *arg = p;
	struct net_device *dev;
	struct net *net;
	unsigned long seen = 0;

	rcu_register_thread();
	while (!__atomic_load_n(&stop_readers, __ATOMIC_RELAXED)) {
		rcu_read_lock();
		for_each_net_rcu(arg->rt, net) {
			dev = dev_get_by_index_rcu(net, LOOPBACK_IFINDEX);
			if (dev && strcmp(dev->name, "lo"))
				arg->errors++;
			for_each_netdev_rcu(net, dev)
				seen += dev->ifindex;
		}
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	return (void *)seen;
}

static unsigned int churn_id;

/* Registration while namespaces come and go: init on each, private data arrays growing. */
static void *pernet_thread(void *p)
{
	struct churn_arg *arg = p;
	struct pernet_operations ops;
	int i;

	for (i = 0; i < 50; i++) {
		ops = (struct pernet_operations){ .id = &churn_id, .size = 32 };
		if (register_pernet_subsys(arg->rt, &ops))
			arg->errors++;
		unregister_pernet_subsys(arg->rt, &ops);
	}
	return NULL;
}

static void test_one_runtime_many_threads(void **state)
{
	struct churn_arg args[6];
	struct nsbpf_runtime *rt;
	pthread_t threads[6];
	int i;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	stop_readers = false;
	for (i = 0; i < 6; i++) {
		args[i] = (struct churn_arg){ .rt = rt, .id = i };
		assert_int_equal(pthread_create(&threads[i], NULL,
						i == 4	 ? rcu_reader_thread
						: i == 5 ? pernet_thread
							 : churn_thread,
						&args[i]),
				 0);
	}
	for (i = 0; i < 6; i++) {
		if (i == 4)
			continue;
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	}
	__atomic_store_n(&stop_readers, true, __ATOMIC_RELAXED);
	assert_int_equal(pthread_join(threads[4], NULL), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(args[i].errors, 0);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(rt->netns.nr_net_namespaces, 0);
	nsbpf_runtime_free(rt);
}

static uint32_t task_net_inum(struct nsbpf_task *task)
{
	struct nsbpf_net *net;
	uint32_t inum;

	if (nsbpf_task_get_net(task, &net))
		return 0;
	inum = nsbpf_net_inum(net);
	nsbpf_net_put(net);
	return inum;
}

/* The child of fork() (no cmocka there): exits 0 if its namespaces get torn down. */
static void fork_child(struct nsbpf_runtime *rt, struct nsbpf_task *task, uint32_t inum_a)
{
	/* A flush that hangs (no worker) ends the child with SIGALRM. */
	alarm(20);
	if (nsbpf_runtime_after_fork_child(rt))
		_exit(1);
	/* Releases B; A, released before the fork, is still queued. */
	if (nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET))
		_exit(2);
	workqueue_thaw(rt->netns.netns_wq);
	if (nsbpf_runtime_flush(rt))
		_exit(3);
	/* Both went: the next namespace gets A's inode number, the lowest free one. */
	if (nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET) || task_net_inum(task) != inum_a)
		_exit(4);
	if (nsbpf_runtime_flush(rt))
		_exit(5);
	_exit(0);
}

static void test_fork_child_teardown(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *task;
	uint32_t inum_a;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &task), 0);
	assert_int_equal(nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET), 0);
	inum_a = task_net_inum(task);
	assert_int_not_equal(inum_a, 0);
	/* A's teardown is left queued for the child. */
	workqueue_freeze(rt->netns.netns_wq);
	assert_int_equal(nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET), 0);

	assert_int_equal(nsbpf_runtime_before_fork(rt), 0);
	pid = fork();
	if (!pid)
		fork_child(rt, task, inum_a);
	assert_int_equal(nsbpf_runtime_after_fork_parent(rt), 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	workqueue_thaw(rt->netns.netns_wq);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	nsbpf_task_exit(task);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(rt->netns.nr_net_namespaces, 0);
	nsbpf_runtime_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_two_runtimes_independent),
		cmocka_unit_test(test_concurrent_runtimes),
		cmocka_unit_test(test_one_runtime_many_threads),
		cmocka_unit_test(test_fork_child_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
