// SPDX-License-Identifier: MIT
/*
 * test_core_cgroup.c - the cgroup v2 hierarchy: mkdir/rmdir and their errors, kernfs-style ids
 * (root 1, cyclic, a generation above 32 bits), path resolution, tasks and migration, removed
 * cgroups kept in memory while referenced, and subsystem callbacks (online, offline, free) in
 * the order the cgroup-BPF code relies on.
 */
#include <errno.h>
#include <limits.h>
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

static uint64_t id_of(struct nsbpf_runtime *rt, const char *path)
{
	struct nsbpf_cgroup *cg;
	uint64_t id;

	if (nsbpf_cgroup_open(rt, path, &cg))
		return 0;
	id = nsbpf_cgroup_id(cg);
	nsbpf_cgroup_put(cg);
	return id;
}

static void test_root(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct cgroup *root;
	char path[64];

	assert_int_equal(id_of(rt, "/"), 1);
	assert_int_equal(id_of(rt, ""), 1);
	assert_int_equal(cgroup_get_from_id(rt, 1, &root), 0);
	assert_ptr_equal(root, rt->cgroup.root);
	assert_int_equal(root->level, 0);
	assert_null(cgroup_parent(root));
	assert_int_equal(cgroup_path(root, path, sizeof(path)), 0);
	assert_string_equal(path, "/");
	cgroup_put(root);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/"), -EEXIST);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/"), -EBUSY);
}

static void test_mkdir_rmdir(void **state)
{
	struct nsbpf_runtime *rt = *state;
	char long_name[300], long_path[5000];

	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/b"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "c"), 0);
	assert_int_equal(id_of(rt, "/a"), 2);
	assert_int_equal(id_of(rt, "/a/b"), 3);
	assert_int_equal(id_of(rt, "/c"), 4);

	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), -EEXIST);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/b/"), -EEXIST);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/."), -EEXIST);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/.."), -EEXIST);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/x/y"), -ENOENT);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/new\nline"), -EINVAL);
	memset(long_name, 'n', 256);
	long_name[256] = '\0';
	assert_int_equal(nsbpf_cgroup_mkdir(rt, long_name), -ENAMETOOLONG);
	long_name[255] = '\0';
	assert_int_equal(nsbpf_cgroup_mkdir(rt, long_name), 0);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, long_name), 0);
	memset(long_path, '/', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(nsbpf_cgroup_mkdir(rt, long_path), -ENAMETOOLONG);

	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a"), -EBUSY);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/nope"), -ENOENT);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/nope/b"), -ENOENT);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a/."), -EINVAL);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a/b/.."), -ENOTEMPTY);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a/b"), 0);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a/b"), -ENOENT);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a"), 0);
	assert_int_equal(id_of(rt, "/a"), 0);

	/* Ids are never handed out twice: b's 3 stays used up. */
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(id_of(rt, "/a"), 6);
}

static void test_paths(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct cgroup *cgrp;
	char path[64];

	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "//a///b/"), 0);
	assert_int_equal(id_of(rt, "a/b"), id_of(rt, "/a/./b"));
	assert_int_equal(id_of(rt, "/a/b/../b"), id_of(rt, "/a/b"));
	assert_int_equal(id_of(rt, "/../../a"), id_of(rt, "/a"));
	assert_int_equal(cgroup_get_from_path(rt, "/a/c", &cgrp), -ENOENT);

	assert_int_equal(cgroup_get_from_path(rt, "/a/b", &cgrp), 0);
	assert_int_equal(cgrp->level, 2);
	assert_int_equal(cgroup_id(cgroup_parent(cgrp)), id_of(rt, "/a"));
	assert_int_equal(cgroup_path(cgrp, path, sizeof(path)), 0);
	assert_string_equal(path, "/a/b");
	assert_int_equal(cgroup_path(cgrp, path, 4), -ENAMETOOLONG);
	assert_int_equal(cgroup_path(cgrp, path, 5), 0);
	cgroup_put(cgrp);
}

static void test_id_generation(void **state)
{
	struct nsbpf_runtime *rt = *state;

	/* Take the inode numbers to their end, as after two billion mkdirs. */
	rt->cgroup.ino_idr.next = INT_MAX;
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/last"), 0);
	assert_int_equal(id_of(rt, "/last"), INT_MAX);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/wrapped"), 0);
	/* The number wraps to the lowest free one, the generation above it goes up. */
	assert_int_equal(id_of(rt, "/wrapped"), (1ULL << 32) | 2);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/next"), 0);
	assert_int_equal(id_of(rt, "/next"), (1ULL << 32) | 3);
}

static void test_tasks(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct nsbpf_cgroup *a, *root, *got;
	struct nsbpf_task *t1, *t2, *child;
	int pids[4];

	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_open(rt, "/a", &a), 0);
	assert_int_equal(nsbpf_cgroup_open(rt, "/", &root), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &t1), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &t2), 0);
	assert_int_equal(nsbpf_cgroup_procs(root, pids, 4), 2);
	assert_int_equal(pids[0], nsbpf_task_pid(t1));
	assert_int_equal(pids[1], nsbpf_task_pid(t2));

	assert_int_equal(nsbpf_cgroup_attach_task(a, t1), 0);
	assert_int_equal(nsbpf_cgroup_attach_task(a, t1), 0);
	assert_int_equal(nsbpf_cgroup_procs(a, pids, 4), 1);
	assert_int_equal(pids[0], nsbpf_task_pid(t1));
	assert_int_equal(nsbpf_cgroup_procs(root, pids, 0), 1);
	assert_int_equal(nsbpf_task_get_cgroup(t1, &got), 0);
	assert_int_equal(nsbpf_cgroup_id(got), nsbpf_cgroup_id(a));
	nsbpf_cgroup_put(got);

	/* A child is born in its parent's cgroup. */
	assert_int_equal(nsbpf_task_new(rt, t1, &child), 0);
	assert_int_equal(nsbpf_cgroup_procs(a, pids, 4), 2);
	assert_ptr_equal(task_dfl_cgroup(task_from_handle(child)), cgroup_from_handle(a));

	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a"), -EBUSY);
	nsbpf_task_exit(child);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a"), -EBUSY);
	assert_int_equal(nsbpf_cgroup_attach_task(root, t1), 0);
	assert_int_equal(nsbpf_cgroup_procs(a, pids, 4), 0);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a"), 0);

	/* Removed but referenced: still in memory with its id, offline. */
	assert_true(cgroup_is_dead(cgroup_from_handle(a)));
	assert_int_equal(nsbpf_cgroup_id(a), 2);
	assert_int_equal(nsbpf_cgroup_attach_task(a, t2), -ENODEV);
	assert_int_equal(cgroup_get_from_id(rt, 2, &(struct cgroup *){ NULL }), -ENOENT);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_non_null(idr_find(&rt->cgroup.ino_idr, 2));
	nsbpf_cgroup_put(a);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_null(idr_find(&rt->cgroup.ino_idr, 2));

	nsbpf_task_exit(t1);
	nsbpf_task_exit(t2);
	assert_int_equal(nsbpf_cgroup_procs(root, pids, 4), 0);
	nsbpf_cgroup_put(root);
}

/* A subsystem that records its callbacks as "on(/a)", "off(/a)", "free(2)". */
static char ss_log[2048];
static const char *ss_refuse;
static int ss_errors;

static void ss_append(const char *fmt, ...)
{
	size_t len = strlen(ss_log);
	va_list ap;

	if (len)
		ss_log[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(ss_log + len, sizeof(ss_log) - len, fmt, ap);
	va_end(ap);
}

static const char *name_of(struct cgroup *cgrp)
{
	return cgrp->parent ? cgrp->name : "/";
}

static int ss_online(struct cgroup *cgrp)
{
	uint64_t *priv = cgrp->subsys_priv[0];

	/* Zeroed private data, and a parent that is online already. */
	if (!priv || *priv || (cgrp->parent && cgroup_is_dead(cgrp->parent)))
		ss_errors++;
	if (priv)
		*priv = cgroup_id(cgrp);
	ss_append("on(%s)", name_of(cgrp));
	return ss_refuse && !strcmp(cgrp->name, ss_refuse) ? -EDQUOT : 0;
}

static void ss_offline(struct cgroup *cgrp)
{
	ss_append("off(%s)", name_of(cgrp));
}

static void ss_free(struct cgroup *cgrp)
{
	uint64_t *priv = cgrp->subsys_priv[0];

	if (!priv || *priv != cgroup_id(cgrp))
		ss_errors++;
	ss_append("free(%llu)", (unsigned long long)cgroup_id(cgrp));
}

#define assert_ss_log(expected)                                                                    \
	do {                                                                                       \
		assert_string_equal(ss_log, expected);                                             \
		ss_log[0] = '\0';                                                                  \
	} while (0)

static void test_subsys(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct cgroup_subsys ss = {
		.name = "test",
		.css_online = ss_online,
		.css_offline = ss_offline,
		.css_free = ss_free,
		.priv_size = sizeof(uint64_t),
	};
	struct nsbpf_cgroup *held;

	ss_log[0] = '\0';
	ss_refuse = NULL;
	ss_errors = 0;
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/b"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/c"), 0);

	/* Registered late: every existing cgroup comes online, parents first. */
	assert_int_equal(cgroup_register_subsys(rt, &ss), 0);
	assert_int_equal(ss.id, 0);
	assert_ss_log("on(/) on(a) on(b) on(c)");

	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/d"), 0);
	assert_ss_log("on(d)");
	ss_refuse = "e";
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/e"), -EDQUOT);
	assert_ss_log("on(e)");
	assert_int_equal(id_of(rt, "/a/e"), 0);
	ss_refuse = NULL;

	/* rmdir takes it offline now; the memory goes after the last reference. */
	assert_int_equal(nsbpf_cgroup_open(rt, "/a/d", &held), 0);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a/d"), 0);
	assert_ss_log("off(d)");
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_ss_log("");
	nsbpf_cgroup_put(held);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_ss_log("free(5)");

	/* Unregistering: offline and free everywhere, children first. */
	assert_int_equal(nsbpf_cgroup_open(rt, "/c", &held), 0);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/c"), 0);
	assert_ss_log("off(c)");
	cgroup_unregister_subsys(rt, &ss);
	assert_ss_log("off(b) free(3) off(a) free(2) off(/) free(1) free(4)");
	nsbpf_cgroup_put(held);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_ss_log("");
	assert_int_equal(ss_errors, 0);
}

static void test_subsys_register_failure(void **state)
{
	struct nsbpf_runtime *rt = *state;
	struct cgroup_subsys ss = {
		.css_online = ss_online,
		.css_offline = ss_offline,
		.css_free = ss_free,
		.priv_size = sizeof(uint64_t),
	};

	ss_log[0] = '\0';
	ss_errors = 0;
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/b"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/c"), 0);
	ss_refuse = "b";
	assert_int_equal(cgroup_register_subsys(rt, &ss), -EDQUOT);
	assert_ss_log("on(/) on(a) on(b) off(a) free(2) off(/) free(1)");
	ss_refuse = NULL;
	assert_null(rt->cgroup.subsys[0]);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/d"), 0);
	assert_ss_log("");
	assert_int_equal(ss_errors, 0);
}

/* Handles the embedder never put are released by nsbpf_runtime_free(). */
static void test_runtime_free_with_handles(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_cgroup *a, *b;
	struct nsbpf_task *t;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_mkdir(rt, "/a/b"), 0);
	assert_int_equal(nsbpf_cgroup_open(rt, "/a", &a), 0);
	assert_int_equal(nsbpf_cgroup_open(rt, "/a/b", &b), 0);
	assert_int_equal(nsbpf_task_new(rt, NULL, &t), 0);
	assert_int_equal(nsbpf_cgroup_attach_task(b, t), 0);
	assert_int_equal(nsbpf_cgroup_rmdir(rt, "/a/b"), -EBUSY);
	nsbpf_runtime_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_rmdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subsys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subsys_register_failure, setup, teardown),
		cmocka_unit_test(test_runtime_free_with_handles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
