// SPDX-License-Identifier: MIT
/*
 * test_bpf_teardown.c - freeing a runtime releases everything it made: each test counts the
 * entries of /proc/self/fd before the runtime exists, builds a web of objects through
 * bpf() and the nsbpf_fd_*() calls (maps, programs holding maps, maps holding programs and
 * maps, BTF, pins, dups, namespace and cgroup fds, a stats fd, an attachment), closes some
 * fds and leaves the rest open on purpose, frees the runtime and expects exactly the fds it
 * started with. Memory is the sanitizer build's part: LeakSanitizer reports at exit what
 * the teardown did not free.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

#include "fd_count.h"

#define MAX_FDS 64

/* One runtime and every fd it handed out, open or not. */
struct world {
	struct nsbpf_runtime *rt;
	int fds[MAX_FDS];
	bool closed[MAX_FDS]; /* closed before the runtime was freed: the number may be reused */
	unsigned int nr_fds;
	char dir[32]; /* its bpffs directory: two runtimes use different names on purpose */
};

static int count_fds(void)
{
	int n = count_open_fds();

	assert_true(n >= 0);
	return n;
}

/* The fds of the process that are open, for the message when the count is off. */
static void print_fds(const char *when)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];

	if (!d)
		return;
	fprintf(stderr, "open fds %s:\n", when);
	while ((e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  %s -> %s\n", e->d_name, target);
	}
	closedir(d);
}

static void assert_fd_count(int expected, const char *when)
{
	int n = count_fds();

	if (n != expected)
		print_fds(when);
	assert_int_equal(n, expected);
}

static int keep(struct world *w, long fd)
{
	assert_true(fd >= 0);
	assert_true(nsbpf_fd_owned(w->rt, (int)fd));
	assert_true(w->nr_fds < MAX_FDS);
	w->closed[w->nr_fds] = false;
	w->fds[w->nr_fds++] = (int)fd;
	return (int)fd;
}

static long sys(struct world *w, int cmd, union bpf_attr *attr)
{
	return nsbpf_sys_bpf(w->rt, cmd, attr, sizeof(*attr));
}

static int map_create(struct world *w, uint32_t type, uint32_t key, uint32_t value, uint32_t max,
		      int inner_fd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = key;
	attr.value_size = value;
	attr.max_entries = max;
	if (inner_fd >= 0)
		attr.inner_map_fd = (uint32_t)inner_fd;
	return keep(w, sys(w, BPF_MAP_CREATE, &attr));
}

static void map_update(struct world *w, int map_fd, uint32_t key, const void *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)value;
	assert_int_equal(sys(w, BPF_MAP_UPDATE_ELEM, &attr), 0);
}

/* A program of @type: with @map_fd >= 0 it looks up key 0 of that map. */
static int prog_load(struct world *w, uint32_t type, int map_fd)
{
	struct bpf_insn insns[] = {
		{ .code = 0x7a, .dst_reg = 10, .off = -8 }, /* *(u64 *)(fp-8) = 0 */
		{ .code = 0x18, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd },
		{ 0 },						   /* r1 = map */
		{ .code = 0xbf, .dst_reg = 2, .src_reg = 10 },	   /* r2 = fp */
		{ .code = 0x07, .dst_reg = 2, .imm = -8 },	   /* r2 += -8 */
		{ .code = 0x85, .imm = BPF_FUNC_map_lookup_elem }, /* call */
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	   /* r0 = 0 */
		{ .code = 0x95 },				   /* exit */
	};
	static const char license[] = "GPL";
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	/* without a map, only the last two instructions */
	attr.insns = (uintptr_t)(map_fd >= 0 ? insns : insns + 6);
	attr.insn_cnt = map_fd >= 0 ? 8 : 2;
	attr.license = (uintptr_t)license;
	return keep(w, sys(w, BPF_PROG_LOAD, &attr));
}

static int btf_load(struct world *w)
{
	/* one 32-bit "int" */
	static const uint8_t blob[] = {
		0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0,  0, 0, 16, 0, 0,   0,	  5,   0, 0,
		0,    1,    0, 0, 0,  0, 0, 0, 1, 4, 0, 0, 0,  32, 0, 0, 0,  0, 'i', 'n', 't', 0,
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.btf = (uintptr_t)blob;
	attr.btf_size = sizeof(blob);
	return keep(w, sys(w, BPF_BTF_LOAD, &attr));
}

static void pin(struct world *w, int fd, const char *name)
{
	char path[128];
	union bpf_attr attr;

	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)fd;
	attr.pathname = (uintptr_t)path;
	assert_int_equal(sys(w, BPF_OBJ_PIN, &attr), 0);
}

static int obj_get(struct world *w, const char *name)
{
	char path[128];
	union bpf_attr attr;

	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uintptr_t)path;
	return keep(w, sys(w, BPF_OBJ_GET, &attr));
}

static int dup_fd(struct world *w, int fd, bool cloexec)
{
	int newfd = fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);

	assert_true(newfd >= 0);
	assert_int_equal(nsbpf_fd_dup(w->rt, fd, newfd, cloexec), 0);
	return keep(w, newfd);
}

static void close_fd(struct world *w, int fd)
{
	assert_int_equal(nsbpf_fd_close(w->rt, fd), 0);
	for (unsigned int i = w->nr_fds; i-- > 0;) {
		if (w->fds[i] == fd) {
			w->closed[i] = true;
			break;
		}
	}
}

/*
 * Every kind of object and every way objects hold each other; roughly half the fds are
 * closed, the rest stay open for nsbpf_runtime_free().
 */
static void build(struct world *w, const char *dir)
{
	struct nsbpf_task *task;
	struct nsbpf_net *net;
	struct nsbpf_cgroup *cgrp;
	union bpf_attr attr;
	uint64_t value = 42;
	long err;
	int hash, array, inner, outer, prog_array, prog, flow, btf, btf_map, ns_fd, fd;

	assert_int_equal(nsbpf_runtime_new(NULL, &w->rt), 0);
	snprintf(w->dir, sizeof(w->dir), "/sys/fs/bpf/%s", dir);
	assert_int_equal(nsbpf_bpffs_mkdir(w->rt, w->dir, 0700), 0);

	hash = map_create(w, BPF_MAP_TYPE_HASH, 4, 8, 16, -1);
	map_update(w, hash, 1, &value);
	array = map_create(w, BPF_MAP_TYPE_ARRAY, 4, 8, 4, -1);
	map_update(w, array, 0, &value);

	/* a map of maps holding another map, whose fd is closed: only the outer map holds it */
	inner = map_create(w, BPF_MAP_TYPE_ARRAY, 4, 8, 1, -1);
	outer = map_create(w, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, inner);
	map_update(w, outer, 0, &inner);
	close_fd(w, inner);

	/* a program holding a map, held by a program array and by a pin */
	prog = prog_load(w, BPF_PROG_TYPE_SOCKET_FILTER, hash);
	prog_array = map_create(w, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, -1);
	map_update(w, prog_array, 1, &prog);
	pin(w, prog, "prog");
	pin(w, hash, "hash");
	pin(w, prog_array, "prog_array");
	close_fd(w, prog);
	obj_get(w, "prog");
	close_fd(w, obj_get(w, "hash"));

	/* BTF held by a map; the BTF fd is closed */
	btf = btf_load(w);
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_HASH;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 4;
	attr.btf_fd = (uint32_t)btf;
	attr.btf_key_type_id = 1;
	attr.btf_value_type_id = 1;
	btf_map = keep(w, sys(w, BPF_MAP_CREATE, &attr));
	close_fd(w, btf);
	(void)btf_map;

	/* dups, one without FD_CLOEXEC, of fds that stay open and of one that is closed */
	dup_fd(w, array, false);
	fd = dup_fd(w, outer, true);
	close_fd(w, outer);
	(void)fd;

	/* namespace fds: init_net and a namespace of a task, which then exits */
	assert_int_equal(nsbpf_net_get_init(w->rt, &net), 0);
	ns_fd = keep(w, nsbpf_fd_install_net(w->rt, net, true));
	nsbpf_net_put(net);
	assert_int_equal(nsbpf_task_new(w->rt, NULL, &task), 0);
	assert_int_equal(nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET), 0);
	assert_int_equal(nsbpf_task_get_net(task, &net), 0);
	fd = keep(w, nsbpf_fd_install_net(w->rt, net, false));
	nsbpf_net_put(net);
	nsbpf_task_exit(task);

	/* a flow dissector attached to that namespace through its fd, the prog fd closed */
	flow = prog_load(w, BPF_PROG_TYPE_FLOW_DISSECTOR, -1);
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)fd;
	attr.attach_bpf_fd = (uint32_t)flow;
	attr.attach_type = BPF_FLOW_DISSECTOR;
	/* no attach target is modelled yet (-EINVAL): then the attempt must leave nothing */
	err = sys(w, BPF_PROG_ATTACH, &attr);
	assert_true(err == 0 || err == -EINVAL);
	close_fd(w, flow);

	/* a cgroup fd of a removed cgroup */
	assert_int_equal(nsbpf_cgroup_mkdir(w->rt, "/a"), 0);
	assert_int_equal(nsbpf_cgroup_open(w->rt, "/a", &cgrp), 0);
	keep(w, nsbpf_fd_install_cgroup(w->rt, cgrp, true));
	nsbpf_cgroup_put(cgrp);
	assert_int_equal(nsbpf_cgroup_rmdir(w->rt, "/a"), 0);

	/* run-time statistics on */
	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	keep(w, sys(w, BPF_ENABLE_STATS, &attr));

	(void)ns_fd;
}

/*
 * After the runtime is freed, none of the fds it still had is open (the numbers closed
 * before may belong to another runtime by now).
 */
static void assert_all_closed(const struct world *w)
{
	for (unsigned int i = 0; i < w->nr_fds; i++) {
		if (w->closed[i])
			continue;
		errno = 0;
		if (fcntl(w->fds[i], F_GETFD) != -1 || errno != EBADF)
			fprintf(stderr, "fd %d still open after nsbpf_runtime_free\n", w->fds[i]);
		assert_int_equal(fcntl(w->fds[i], F_GETFD), -1);
	}
}

static void test_empty_runtime(void **state)
{
	struct nsbpf_runtime *rt;
	union bpf_attr attr;
	int before = count_fds();

	(void)state;
	/* with and without the BPF state (the first bpf() command makes it) */
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	nsbpf_runtime_free(rt);
	assert_fd_count(before, "after a bare runtime");
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	memset(&attr, 0, sizeof(attr));
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, &attr, sizeof(attr)), -ENOENT);
	nsbpf_runtime_free(rt);
	assert_fd_count(before, "after a runtime with a BPF state");
}

static void test_one_runtime(void **state)
{
	struct world w = { 0 };
	int before = count_fds();

	(void)state;
	build(&w, "one");
	assert_true(count_fds() > before);
	nsbpf_runtime_free(w.rt);
	assert_all_closed(&w);
	assert_fd_count(before, "after nsbpf_runtime_free");
}

/* Two runtimes at once: freeing one leaves the other's fds alone, freeing both leaves none. */
static void test_two_runtimes(void **state)
{
	struct world a = { 0 }, b = { 0 };
	int before = count_fds(), with_b;

	(void)state;
	build(&a, "a");
	build(&b, "b");
	nsbpf_runtime_free(a.rt);
	assert_all_closed(&a);
	with_b = count_fds();
	for (unsigned int i = 0; i < b.nr_fds; i++)
		if (nsbpf_fd_owned(b.rt, b.fds[i]))
			assert_true(fcntl(b.fds[i], F_GETFD) >= 0);
	/* b still works after a is gone */
	close_fd(&b, obj_get(&b, "hash"));
	assert_fd_count(with_b, "after a command of the remaining runtime");
	nsbpf_runtime_free(b.rt);
	assert_all_closed(&b);
	assert_fd_count(before, "after freeing both runtimes");
}

/* Built in one order, freed in the other, the same again. */
static void test_two_runtimes_reverse(void **state)
{
	struct world a = { 0 }, b = { 0 };
	int before = count_fds();

	(void)state;
	build(&a, "a");
	build(&b, "b");
	nsbpf_runtime_free(b.rt);
	assert_all_closed(&b);
	nsbpf_runtime_free(a.rt);
	assert_all_closed(&a);
	assert_fd_count(before, "after freeing both runtimes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_runtime),
		cmocka_unit_test(test_one_runtime),
		cmocka_unit_test(test_two_runtimes),
		cmocka_unit_test(test_two_runtimes_reverse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
