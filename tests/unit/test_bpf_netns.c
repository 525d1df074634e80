// SPDX-License-Identifier: MIT
/*
 * test_bpf_netns.c - programs attached to network namespaces (SPEC §3, KERNEL-NOTES §1): what
 * the kdiff scenario netns_attach cannot compare with the live kernel. That scenario works
 * natively in namespaces of its own and compares transcripts, so it must not touch the
 * host's initial namespace, cannot see a reference being dropped (only ids vanishing, after
 * the kernel's deferred frees), never frees a whole kernel, and cannot replay a race. Here:
 *
 *  - the flow dissector exclusion between the initial namespace and the others, both ways,
 *    for direct attach and for links;
 *  - references: a directly attached program released by its namespace's teardown, links
 *    keeping their programs, defunct links that can still be closed, nothing left behind
 *    (in the sanitizer build LeakSanitizer checks the memory);
 *  - nsbpf_runtime_free() with attachments, links and pinned links still in place;
 *  - threads racing link create, update, detach, close, query and direct attach against
 *    namespaces being created and torn down: each result must be one the contract allows,
 *    and everything must end clean;
 *  - the first bpf() calls of a runtime racing while one of them attaches.
 *
 * sk_lookup's enabling counter (bpf_sk_lookup_enabled) has no public view, so it is not
 * tested here. Only the public API is used: runtimes, tasks, namespace handles, fds, bpf().
 */
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

#include "bpf/bpf-netns.h"
#include "core/runtime.h"
#include "fd_count.h"

#define SK_LOOKUP_MAX 64 /* links per namespace */

/* ---- Helpers ----------------------------------------------------------------------------- */

static int count_fds(void)
{
	int n = count_open_fds();

	assert_true(n >= 0);
	return n;
}

static long sys_bpf(struct nsbpf_runtime *rt, int cmd, union bpf_attr *attr)
{
	return nsbpf_sys_bpf(rt, cmd, attr, sizeof(*attr));
}

/* r0 = @ret; exit */
static int prog_load(struct nsbpf_runtime *rt, uint32_t type, uint32_t expected, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static const char license[] = "GPL";
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.expected_attach_type = expected;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = 2;
	attr.license = (uintptr_t)license;
	return (int)sys_bpf(rt, BPF_PROG_LOAD, &attr);
}

static int flow_load(struct nsbpf_runtime *rt)
{
	int fd = prog_load(rt, BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 0);

	assert_true(fd >= 0);
	return fd;
}

static int sk_lookup_load(struct nsbpf_runtime *rt)
{
	int fd = prog_load(rt, BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 1);

	assert_true(fd >= 0);
	return fd;
}

static uint32_t prog_id(struct nsbpf_runtime *rt, int fd)
{
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uintptr_t)&info;
	assert_int_equal(sys_bpf(rt, BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	assert_int_not_equal(info.id, 0);
	return info.id;
}

/* BPF_PROG_GET_FD_BY_ID: an fd, or -ENOENT once nothing holds the program any more. */
static long prog_get_fd_by_id(struct nsbpf_runtime *rt, uint32_t id)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	return sys_bpf(rt, BPF_PROG_GET_FD_BY_ID, &attr);
}

/* Whether a program of that id still exists (nothing is left open by asking). */
static bool prog_alive(struct nsbpf_runtime *rt, uint32_t id)
{
	long fd = prog_get_fd_by_id(rt, id);

	if (fd == -ENOENT)
		return false;
	assert_true(fd >= 0);
	assert_int_equal(nsbpf_fd_close(rt, (int)fd), 0);
	return true;
}

static long next_id(struct nsbpf_runtime *rt, int cmd, uint32_t start)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.start_id = start;
	return sys_bpf(rt, cmd, &attr);
}

/* PROG_ATTACH / PROG_DETACH of the flow dissector in the calling task's namespace. */
static long flow_attach(struct nsbpf_runtime *rt, int cmd, int prog)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = 0;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_FLOW_DISSECTOR;
	return sys_bpf(rt, cmd, &attr);
}

static long link_create(struct nsbpf_runtime *rt, int prog, int ns_fd, uint32_t type)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog;
	attr.link_create.target_fd = (uint32_t)ns_fd;
	attr.link_create.attach_type = type;
	return sys_bpf(rt, BPF_LINK_CREATE, &attr);
}

static long link_update(struct nsbpf_runtime *rt, int link, int prog, uint32_t flags, int old)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_update.link_fd = (uint32_t)link;
	attr.link_update.new_prog_fd = (uint32_t)prog;
	attr.link_update.flags = flags;
	attr.link_update.old_prog_fd = (uint32_t)old;
	return sys_bpf(rt, BPF_LINK_UPDATE, &attr);
}

static long link_detach(struct nsbpf_runtime *rt, int link)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_detach.link_fd = (uint32_t)link;
	return sys_bpf(rt, BPF_LINK_DETACH, &attr);
}

static long link_info(struct nsbpf_runtime *rt, int link, struct bpf_link_info *info)
{
	union bpf_attr attr;

	memset(info, 0, sizeof(*info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)link;
	attr.info.info_len = sizeof(*info);
	attr.info.info = (uintptr_t)info;
	return sys_bpf(rt, BPF_OBJ_GET_INFO_BY_FD, &attr);
}

/* PROG_QUERY of a namespace fd: room for @room ids; *cnt gets the count. */
static long query(struct nsbpf_runtime *rt, int ns_fd, uint32_t type, uint32_t *ids, uint32_t room,
		  uint32_t *cnt)
{
	union bpf_attr attr;
	long err;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)ns_fd;
	attr.query.attach_type = type;
	attr.query.prog_ids = (uintptr_t)ids;
	attr.query.prog_cnt = room;
	attr.query.attach_flags = 0xdead;
	err = sys_bpf(rt, BPF_PROG_QUERY, &attr);
	*cnt = attr.query.prog_cnt;
	return err;
}

/* The programs of @type in the namespace of @ns_fd, as a count (and the first id). */
static uint32_t query_cnt(struct nsbpf_runtime *rt, int ns_fd, uint32_t type, uint32_t *first)
{
	uint32_t ids[SK_LOOKUP_MAX] = { 0 }, cnt = 0;

	assert_int_equal(query(rt, ns_fd, type, ids, SK_LOOKUP_MAX, &cnt), 0);
	if (first)
		*first = cnt ? ids[0] : 0;
	return cnt;
}

static int net_fd(struct nsbpf_runtime *rt, struct nsbpf_net *net)
{
	int fd = nsbpf_fd_install_net(rt, net, true);

	assert_true(fd >= 0);
	return fd;
}

static int init_net_fd(struct nsbpf_runtime *rt)
{
	struct nsbpf_net *net;
	int fd;

	assert_int_equal(nsbpf_net_get_init(rt, &net), 0);
	fd = net_fd(rt, net);
	nsbpf_net_put(net);
	return fd;
}

/* A task forked from init and moved to a namespace of its own. */
static struct nsbpf_task *child_task(struct nsbpf_runtime *rt)
{
	struct nsbpf_task *task;

	assert_int_equal(nsbpf_task_new(rt, NULL, &task), 0);
	assert_int_equal(nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET), 0);
	return task;
}

static int task_net_fd(struct nsbpf_runtime *rt, struct nsbpf_task *task, uint32_t *inum)
{
	struct nsbpf_net *net;
	int fd;

	assert_int_equal(nsbpf_task_get_net(task, &net), 0);
	fd = net_fd(rt, net);
	if (inum)
		*inum = nsbpf_net_inum(net);
	nsbpf_net_put(net);
	return fd;
}

static void close_fd(struct nsbpf_runtime *rt, int fd)
{
	assert_int_equal(nsbpf_fd_close(rt, fd), 0);
}

/* ---- 0. What the data path reads ----------------------------------------------------------- */

/* The ids the run array of @net_h for @type holds, in order; -1 when there is none. */
static int run_array_ids(struct nsbpf_runtime *rt, struct nsbpf_net *net_h,
			 enum netns_bpf_attach_type type, uint32_t *ids)
{
	struct bpf_prog_array *array;
	int n = -1;

	rcu_read_lock();
	array = netns_bpf_run_array(bpf_state_peek(rt), net_from_handle(net_h), type);
	if (array) {
		n = 0;
		for (uint32_t i = 0; i < array->cnt; i++)
			if (array->progs[i])
				ids[n++] = bpf_prog_id(array->progs[i]);
	}
	rcu_read_unlock();
	return n;
}

/*
 * The run array follows the links in attach order, and the sk_lookup switch
 * (bpf_sk_lookup_enabled) is on while any namespace has an sk_lookup link: off again after the
 * last detach, close or teardown. A flow dissector does not turn it on.
 */
static void test_run_array_and_sk_lookup_switch(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *child;
	struct nsbpf_net *init, *cnet;
	int fds = count_fds(), prog_a, prog_b, flow, ns, cns, l1, l2, l3;
	uint32_t ids[4], id_a, id_b;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	prog_a = sk_lookup_load(rt);
	prog_b = sk_lookup_load(rt);
	flow = flow_load(rt);
	id_a = prog_id(rt, prog_a);
	id_b = prog_id(rt, prog_b);
	assert_int_equal(nsbpf_net_get_init(rt, &init), 0);
	ns = init_net_fd(rt);
	assert_false(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	assert_int_equal(run_array_ids(rt, init, NETNS_BPF_SK_LOOKUP, ids), -1);

	l3 = (int)link_create(rt, flow, ns, BPF_FLOW_DISSECTOR);
	assert_true(l3 >= 0);
	assert_false(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	assert_int_equal(run_array_ids(rt, init, NETNS_BPF_FLOW_DISSECTOR, ids), 1);
	assert_int_equal(ids[0], prog_id(rt, flow));

	l1 = (int)link_create(rt, prog_a, ns, BPF_SK_LOOKUP);
	l2 = (int)link_create(rt, prog_b, ns, BPF_SK_LOOKUP);
	assert_true(l1 >= 0 && l2 >= 0);
	assert_true(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	assert_int_equal(run_array_ids(rt, init, NETNS_BPF_SK_LOOKUP, ids), 2);
	assert_int_equal(ids[0], id_a);
	assert_int_equal(ids[1], id_b);
	/* an update changes the program in place */
	assert_int_equal(link_update(rt, l1, prog_b, 0, 0), 0);
	assert_int_equal(run_array_ids(rt, init, NETNS_BPF_SK_LOOKUP, ids), 2);
	assert_int_equal(ids[0], id_b);

	close_fd(rt, l1);
	assert_true(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	assert_int_equal(run_array_ids(rt, init, NETNS_BPF_SK_LOOKUP, ids), 1);
	assert_int_equal(ids[0], id_b);
	assert_int_equal(link_detach(rt, l2), 0);
	assert_false(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	assert_int_equal(run_array_ids(rt, init, NETNS_BPF_SK_LOOKUP, ids), -1);
	/* closing the detached link does not count it off twice */
	close_fd(rt, l2);
	assert_false(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));

	/* a namespace torn down with its link attached turns it off too */
	child = child_task(rt);
	cns = task_net_fd(rt, child, NULL);
	l1 = (int)link_create(rt, prog_a, cns, BPF_SK_LOOKUP);
	assert_true(l1 >= 0);
	assert_int_equal(nsbpf_task_get_net(child, &cnet), 0);
	assert_int_equal(run_array_ids(rt, cnet, NETNS_BPF_SK_LOOKUP, ids), 1);
	nsbpf_net_put(cnet);
	assert_true(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	close_fd(rt, cns);
	nsbpf_task_exit(child);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_false(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));
	close_fd(rt, l1);
	assert_false(netns_bpf_sk_lookup_enabled(bpf_state_peek(rt)));

	close_fd(rt, l3);
	close_fd(rt, ns);
	nsbpf_net_put(init);
	close_fd(rt, prog_a);
	close_fd(rt, prog_b);
	close_fd(rt, flow);
	nsbpf_runtime_free(rt);
	assert_int_equal(count_fds(), fds);
}

/* ---- 1. Flow dissector: the initial namespace against the others ------------------------- */

/*
 * The initial namespace's flow dissector runs for every namespace, so a program there
 * excludes programs in the others, and one in any other excludes it; two other namespaces do
 * not exclude each other. Direct attach goes to the caller's namespace, LINK_CREATE to the
 * fd's: the child task creating a link on init_net's fd is judged as init_net.
 */
static void test_flow_dissector_init_net_exclusion_direct(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *child, *other;
	int p1, p2, p3, init_fd, child_fd, other_fd;
	uint32_t id;
	long link;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	p1 = flow_load(rt);
	p2 = flow_load(rt);
	p3 = flow_load(rt);
	child = child_task(rt);
	other = child_task(rt);
	init_fd = init_net_fd(rt);
	child_fd = task_net_fd(rt, child, NULL);
	other_fd = task_net_fd(rt, other, NULL);

	/* init_net first: the child can neither attach nor link */
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), 0);
	assert_int_equal(nsbpf_set_current_task(rt, child), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p2), -EEXIST);
	assert_int_equal(link_create(rt, p2, child_fd, BPF_FLOW_DISSECTOR), -EEXIST);
	assert_int_equal(query_cnt(rt, child_fd, BPF_FLOW_DISSECTOR, NULL), 0);
	/* not attached in the child: nothing to detach there, init_net's stays */
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p1), -ENOENT);
	/* init_net replacing its own program is not excluded by anything */
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p3), 0);
	assert_int_equal(query_cnt(rt, init_fd, BPF_FLOW_DISSECTOR, &id), 1);
	assert_int_equal(id, prog_id(rt, p3));
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p3), 0);

	/* init_net's gone: the child attaches, and now init_net cannot, either way */
	assert_int_equal(nsbpf_set_current_task(rt, child), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p2), 0);
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), -EEXIST);
	assert_int_equal(link_create(rt, p1, init_fd, BPF_FLOW_DISSECTOR), -EEXIST);
	/* the target of a link is the fd's namespace, whoever asks */
	assert_int_equal(nsbpf_set_current_task(rt, child), 0);
	assert_int_equal(link_create(rt, p1, init_fd, BPF_FLOW_DISSECTOR), -EEXIST);
	assert_int_equal(query_cnt(rt, init_fd, BPF_FLOW_DISSECTOR, NULL), 0);

	/* another namespace besides init_net is not excluded by the child's program */
	assert_int_equal(nsbpf_set_current_task(rt, other), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p3), 0);
	assert_int_equal(query_cnt(rt, other_fd, BPF_FLOW_DISSECTOR, &id), 1);
	assert_int_equal(id, prog_id(rt, p3));

	/* init_net stays excluded until both are gone */
	assert_int_equal(nsbpf_set_current_task(rt, child), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p2), 0);
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), -EEXIST);
	assert_int_equal(nsbpf_set_current_task(rt, other), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p3), 0);
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	link = link_create(rt, p1, init_fd, BPF_FLOW_DISSECTOR);
	assert_true(link >= 0);
	close_fd(rt, (int)link);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p1), 0);

	nsbpf_task_exit(child);
	nsbpf_task_exit(other);
	close_fd(rt, init_fd);
	close_fd(rt, child_fd);
	close_fd(rt, other_fd);
	close_fd(rt, p1);
	close_fd(rt, p2);
	close_fd(rt, p3);
	nsbpf_runtime_free(rt);
}

/*
 * The same with links: a link attached counts as the namespace's program, a detached (or
 * closed) one does not, whether the link's fd is still open or not.
 */
static void test_flow_dissector_init_net_exclusion_links(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *child;
	int p1, p2, init_fd, child_fd;
	long init_link, child_link, link;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	p1 = flow_load(rt);
	p2 = flow_load(rt);
	child = child_task(rt);
	init_fd = init_net_fd(rt);
	child_fd = task_net_fd(rt, child, NULL);

	/* a link in init_net: the child can neither link nor attach */
	init_link = link_create(rt, p1, init_fd, BPF_FLOW_DISSECTOR);
	assert_true(init_link >= 0);
	assert_int_equal(link_create(rt, p2, child_fd, BPF_FLOW_DISSECTOR), -EEXIST);
	assert_int_equal(nsbpf_set_current_task(rt, child), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p2), -EEXIST);
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);

	/* detached but open: it no longer counts */
	assert_int_equal(link_detach(rt, (int)init_link), 0);
	child_link = link_create(rt, p2, child_fd, BPF_FLOW_DISSECTOR);
	assert_true(child_link >= 0);

	/* now the child's link excludes init_net's link and direct attach */
	assert_int_equal(link_create(rt, p1, init_fd, BPF_FLOW_DISSECTOR), -EEXIST);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), -EEXIST);
	/* an update of the defunct init_net link does not sneak a program in */
	assert_int_equal(link_update(rt, (int)init_link, p2, 0, 0), -ENOLINK);
	assert_int_equal(query_cnt(rt, init_fd, BPF_FLOW_DISSECTOR, NULL), 0);

	/* closing the child's link (its last reference) lifts the exclusion */
	close_fd(rt, (int)child_link);
	link = link_create(rt, p1, init_fd, BPF_FLOW_DISSECTOR);
	assert_true(link >= 0);
	assert_int_equal(link_create(rt, p2, child_fd, BPF_FLOW_DISSECTOR), -EEXIST);
	close_fd(rt, (int)link);

	/* a child link left in place, then the child namespace dies: init_net is free again */
	child_link = link_create(rt, p2, child_fd, BPF_FLOW_DISSECTOR);
	assert_true(child_link >= 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), -EEXIST);
	close_fd(rt, child_fd);
	nsbpf_task_exit(child);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), 0);
	assert_int_equal(query_cnt(rt, init_fd, BPF_FLOW_DISSECTOR, NULL), 1);
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p1), 0);

	close_fd(rt, (int)child_link);
	close_fd(rt, (int)init_link);
	close_fd(rt, init_fd);
	close_fd(rt, p1);
	close_fd(rt, p2);
	assert_int_equal(next_id(rt, BPF_LINK_GET_NEXT_ID, 0), -ENOENT);
	assert_int_equal(next_id(rt, BPF_PROG_GET_NEXT_ID, 0), -ENOENT);
	nsbpf_runtime_free(rt);
}

/* ---- 2. Direct attachments go with their namespace ---------------------------------------- */

/*
 * A flow dissector attached directly holds its program: with its fd closed the program is
 * still found by id while the namespace lives (any reference keeps it: the task, a handle),
 * and is released by the namespace's teardown. @setns_away: the only task leaves by setns
 * back to init_net (it lives on there) rather than by exiting.
 */
static void direct_attach_released_at_teardown(bool setns_away)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *task;
	struct nsbpf_net *net, *init_net;
	uint32_t id;
	int prog;

	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	task = child_task(rt);
	assert_int_equal(nsbpf_task_get_net(task, &net), 0);
	assert_int_equal(nsbpf_set_current_task(rt, task), 0);
	prog = flow_load(rt);
	id = prog_id(rt, prog);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, prog), 0);
	close_fd(rt, prog);
	assert_true(prog_alive(rt, id));

	/* the task leaves; the handle keeps the namespace, and so the attachment, alive */
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	if (setns_away) {
		assert_int_equal(nsbpf_net_get_init(rt, &init_net), 0);
		assert_int_equal(nsbpf_task_setns(task, init_net, NSBPF_CLONE_NEWNET), 0);
		nsbpf_net_put(init_net);
	} else {
		nsbpf_task_exit(task);
	}
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_true(prog_alive(rt, id));

	/* the last reference: teardown detaches and drops the program */
	nsbpf_net_put(net);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_false(prog_alive(rt, id));
	assert_int_equal(next_id(rt, BPF_PROG_GET_NEXT_ID, 0), -ENOENT);

	/* the task, now in init_net, finds init_net's flow dissector free */
	if (setns_away) {
		assert_int_equal(nsbpf_set_current_task(rt, task), 0);
		prog = flow_load(rt);
		assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, prog), 0);
		assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, prog), 0);
		close_fd(rt, prog);
		assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
		nsbpf_task_exit(task);
	}
	nsbpf_runtime_free(rt);
}

static void test_direct_attach_released_task_exits(void **state)
{
	(void)state;
	direct_attach_released_at_teardown(false);
}

static void test_direct_attach_released_task_setns(void **state)
{
	(void)state;
	direct_attach_released_at_teardown(true);
}

/* A replaced or detached program is dropped at once; the one attached stays. */
static void test_direct_attach_replace_drops_old(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *task;
	uint32_t id1, id2;
	int p1, p2;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	task = child_task(rt);
	assert_int_equal(nsbpf_set_current_task(rt, task), 0);
	p1 = flow_load(rt);
	p2 = flow_load(rt);
	id1 = prog_id(rt, p1);
	id2 = prog_id(rt, p2);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p1), 0);
	close_fd(rt, p1);
	assert_true(prog_alive(rt, id1));
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, p2), 0);
	assert_false(prog_alive(rt, id1));
	assert_int_equal(flow_attach(rt, BPF_PROG_DETACH, p2), 0);
	close_fd(rt, p2);
	assert_false(prog_alive(rt, id2));
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	nsbpf_task_exit(task);
	nsbpf_runtime_free(rt);
}

/* ---- 3. Links hold their program; defunct links ------------------------------------------- */

static void assert_link_info(struct nsbpf_runtime *rt, int link, uint32_t prog, uint32_t ino,
			     uint32_t type)
{
	struct bpf_link_info info;

	assert_int_equal(link_info(rt, link, &info), 0);
	assert_int_equal(info.type, BPF_LINK_TYPE_NETNS);
	assert_int_not_equal(info.id, 0);
	assert_int_equal(info.prog_id, prog);
	assert_int_equal(info.netns.netns_ino, ino);
	assert_int_equal(info.netns.attach_type, type);
}

/*
 * Links keep their programs with every prog fd closed; an update drops the program it
 * replaces and keeps the new one, at the same position. When the namespace dies, links turn
 * defunct: prog_id stays, netns_ino is 0, update is -ENOLINK after the -EPERM and -EINVAL
 * checks, detach succeeds (twice), and closing them frees them and their programs.
 */
static void test_links_hold_programs_and_go_defunct(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *task;
	uint32_t ids[4], cnt, inum, id1, id2, id3, idf;
	int s1, s2, s3, flow, ns_fd;
	long l1, l2, lf, again;
	char buf[512];
	long len;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	task = child_task(rt);
	ns_fd = task_net_fd(rt, task, &inum);
	s1 = sk_lookup_load(rt);
	s2 = sk_lookup_load(rt);
	s3 = sk_lookup_load(rt);
	flow = flow_load(rt);
	id1 = prog_id(rt, s1);
	id2 = prog_id(rt, s2);
	id3 = prog_id(rt, s3);
	idf = prog_id(rt, flow);

	l1 = link_create(rt, s1, ns_fd, BPF_SK_LOOKUP);
	l2 = link_create(rt, s2, ns_fd, BPF_SK_LOOKUP);
	lf = link_create(rt, flow, ns_fd, BPF_FLOW_DISSECTOR);
	assert_true(l1 >= 0 && l2 >= 0 && lf >= 0);
	close_fd(rt, s1);
	close_fd(rt, s2);
	close_fd(rt, flow);
	assert_true(prog_alive(rt, id1));
	assert_true(prog_alive(rt, id2));
	assert_true(prog_alive(rt, idf));
	assert_link_info(rt, (int)l1, id1, inum, BPF_SK_LOOKUP);
	assert_link_info(rt, (int)lf, idf, inum, BPF_FLOW_DISSECTOR);

	/* s2's only reference is l2's: replacing it frees it, s3 takes its place */
	assert_int_equal(link_update(rt, (int)l2, s3, 0, 0), 0);
	assert_false(prog_alive(rt, id2));
	assert_int_equal(query(rt, ns_fd, BPF_SK_LOOKUP, ids, 4, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(ids[0], id1);
	assert_int_equal(ids[1], id3);
	close_fd(rt, s3);
	assert_true(prog_alive(rt, id3));

	/* the namespace dies with the links' fds open */
	close_fd(rt, ns_fd);
	nsbpf_task_exit(task);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);

	assert_link_info(rt, (int)l1, id1, 0, BPF_SK_LOOKUP);
	assert_link_info(rt, (int)l2, id3, 0, BPF_SK_LOOKUP);
	assert_link_info(rt, (int)lf, idf, 0, BPF_FLOW_DISSECTOR);
	len = nsbpf_fd_show_fdinfo(rt, (int)l1, buf, sizeof(buf));
	assert_true(len > 0 && (size_t)len < sizeof(buf));
	assert_non_null(strstr(buf, "link_type:\tnetns\n"));
	assert_non_null(strstr(buf, "netns_ino:\t0\n"));
	assert_non_null(strstr(buf, "attach_type:\t36\n"));

	/* defunct: -EPERM and -EINVAL still come first, then -ENOLINK */
	s2 = sk_lookup_load(rt);
	flow = flow_load(rt);
	assert_int_equal(link_update(rt, (int)l1, s2, BPF_F_REPLACE, s2), -EPERM);
	assert_int_equal(link_update(rt, (int)l1, flow, 0, 0), -EINVAL);
	assert_int_equal(link_update(rt, (int)l1, s2, 0, 0), -ENOLINK);
	assert_int_equal(link_update(rt, (int)lf, flow, 0, 0), -ENOLINK);
	/* a failed update keeps the link's program and takes no reference on the new one */
	assert_link_info(rt, (int)l1, id1, 0, BPF_SK_LOOKUP);
	id2 = prog_id(rt, s2);
	close_fd(rt, s2);
	assert_false(prog_alive(rt, id2));
	assert_int_equal(link_detach(rt, (int)l1), 0);
	assert_int_equal(link_detach(rt, (int)l1), 0);
	assert_link_info(rt, (int)l1, id1, 0, BPF_SK_LOOKUP);

	/* a defunct link is still found by id while open */
	{
		struct bpf_link_info info;
		union bpf_attr attr;

		assert_int_equal(link_info(rt, (int)l2, &info), 0);
		memset(&attr, 0, sizeof(attr));
		attr.link_id = info.id;
		again = sys_bpf(rt, BPF_LINK_GET_FD_BY_ID, &attr);
		assert_true(again >= 0);
		close_fd(rt, (int)l2);
		/* the id's fd is now the last reference: the link and s3 live on */
		assert_true(prog_alive(rt, id3));
		assert_link_info(rt, (int)again, id3, 0, BPF_SK_LOOKUP);
		close_fd(rt, (int)again);
		assert_false(prog_alive(rt, id3));
		assert_int_equal(sys_bpf(rt, BPF_LINK_GET_FD_BY_ID, &attr), -ENOENT);
	}

	close_fd(rt, (int)l1);
	assert_false(prog_alive(rt, id1));
	close_fd(rt, (int)lf);
	assert_false(prog_alive(rt, idf));
	close_fd(rt, flow);
	assert_int_equal(next_id(rt, BPF_LINK_GET_NEXT_ID, 0), -ENOENT);
	assert_int_equal(next_id(rt, BPF_PROG_GET_NEXT_ID, 0), -ENOENT);
	nsbpf_runtime_free(rt);
}

/*
 * The 64-link limit is per namespace, not per runtime; a namespace dying full leaves the
 * other one full, and its 64 defunct links hold their program until closed.
 */
static void test_sk_lookup_limit_per_namespace(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *a, *b;
	long links_a[SK_LOOKUP_MAX], links_b[SK_LOOKUP_MAX];
	int prog, fd_a, fd_b, i;
	uint32_t id;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	a = child_task(rt);
	b = child_task(rt);
	fd_a = task_net_fd(rt, a, NULL);
	fd_b = task_net_fd(rt, b, NULL);
	prog = sk_lookup_load(rt);
	id = prog_id(rt, prog);
	for (i = 0; i < SK_LOOKUP_MAX; i++) {
		links_a[i] = link_create(rt, prog, fd_a, BPF_SK_LOOKUP);
		links_b[i] = link_create(rt, prog, fd_b, BPF_SK_LOOKUP);
		assert_true(links_a[i] >= 0 && links_b[i] >= 0);
	}
	assert_int_equal(link_create(rt, prog, fd_a, BPF_SK_LOOKUP), -E2BIG);
	assert_int_equal(link_create(rt, prog, fd_b, BPF_SK_LOOKUP), -E2BIG);
	assert_int_equal(query_cnt(rt, fd_a, BPF_SK_LOOKUP, NULL), SK_LOOKUP_MAX);

	/* a dies: b is still full, a's links are defunct */
	close_fd(rt, fd_a);
	nsbpf_task_exit(a);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(link_create(rt, prog, fd_b, BPF_SK_LOOKUP), -E2BIG);
	assert_int_equal(link_update(rt, (int)links_a[0], prog, 0, 0), -ENOLINK);
	assert_int_equal(link_update(rt, (int)links_b[0], prog, 0, 0), 0);

	/* closing a's defunct links touches nothing of b's */
	close_fd(rt, prog);
	for (i = 0; i < SK_LOOKUP_MAX; i++)
		close_fd(rt, (int)links_a[i]);
	assert_true(prog_alive(rt, id));
	assert_int_equal(query_cnt(rt, fd_b, BPF_SK_LOOKUP, NULL), SK_LOOKUP_MAX);
	for (i = 0; i < SK_LOOKUP_MAX; i++)
		close_fd(rt, (int)links_b[i]);
	assert_int_equal(query_cnt(rt, fd_b, BPF_SK_LOOKUP, NULL), 0);
	assert_false(prog_alive(rt, id));
	close_fd(rt, fd_b);
	nsbpf_task_exit(b);
	nsbpf_runtime_free(rt);
}

/* ---- 4. nsbpf_runtime_free with everything in place --------------------------------------- */

/*
 * Attachments of every kind are left for the runtime to undo: a direct flow dissector in a
 * live child namespace (init_net gets an sk_lookup link instead: its flow dissector would
 * exclude the child's), links with open fds, a pinned link whose fds are all closed, a pinned
 * link left defunct by its namespace's death, a task that never exits and a handle never
 * put. Afterwards no fd the runtime made is open, and LeakSanitizer (sanitizer build) finds
 * nothing.
 */
static void test_runtime_free_with_attachments(void **state)
{
	struct nsbpf_runtime *rt;
	struct nsbpf_task *live, *dying, *spare;
	struct nsbpf_net *kept;
	int before = count_fds(), flow, flow2, sk, live_fd, dying_fd, init_fd, pinned_fd, spare_fd;
	long link, pinned;
	union bpf_attr attr;
	static const char path[] = "/sys/fs/bpf/test_bpf_netns_link";
	static const char defunct_path[] = "/sys/fs/bpf/test_bpf_netns_defunct";
	uint32_t cnt;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	live = child_task(rt);
	dying = child_task(rt);
	spare = child_task(rt);
	live_fd = task_net_fd(rt, live, NULL);
	dying_fd = task_net_fd(rt, dying, NULL);
	init_fd = init_net_fd(rt);
	assert_int_equal(nsbpf_task_get_net(spare, &kept), 0);
	flow = flow_load(rt);
	flow2 = flow_load(rt);
	sk = sk_lookup_load(rt);

	/* direct: the live namespace's flow dissector; its prog fd closed */
	assert_int_equal(nsbpf_set_current_task(rt, live), 0);
	assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, flow), 0);
	assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
	close_fd(rt, flow);

	/* links left open, in a live namespace, init_net, and the namespace about to die */
	assert_true(link_create(rt, sk, live_fd, BPF_SK_LOOKUP) >= 0);
	assert_true(link_create(rt, sk, init_fd, BPF_SK_LOOKUP) >= 0);
	assert_true(link_create(rt, sk, dying_fd, BPF_SK_LOOKUP) >= 0);
	assert_true(link_create(rt, flow2, dying_fd, BPF_FLOW_DISSECTOR) >= 0);

	/* pinned, every fd closed: the pin alone holds it, and it is still attached */
	link = link_create(rt, sk, live_fd, BPF_SK_LOOKUP);
	assert_true(link >= 0);
	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)link;
	attr.pathname = (uintptr_t)path;
	assert_int_equal(sys_bpf(rt, BPF_OBJ_PIN, &attr), 0);
	close_fd(rt, (int)link);
	assert_int_equal(query_cnt(rt, live_fd, BPF_SK_LOOKUP, NULL), 2);
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uintptr_t)path;
	pinned = sys_bpf(rt, BPF_OBJ_GET, &attr);
	assert_true(pinned >= 0);
	close_fd(rt, (int)pinned);
	/* and one pinned in the namespace that dies, its fd left open */
	pinned_fd = (int)link_create(rt, sk, dying_fd, BPF_SK_LOOKUP);
	assert_true(pinned_fd >= 0);
	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)pinned_fd;
	attr.pathname = (uintptr_t)defunct_path;
	assert_int_equal(sys_bpf(rt, BPF_OBJ_PIN, &attr), 0);

	/* the dying namespace goes: its links turn defunct, fds still open */
	close_fd(rt, dying_fd);
	nsbpf_task_exit(dying);
	assert_int_equal(nsbpf_runtime_flush(rt), 0);
	assert_int_equal(link_update(rt, pinned_fd, sk, 0, 0), -ENOLINK);
	assert_int_equal(query(rt, live_fd, BPF_FLOW_DISSECTOR, NULL, 0, &cnt), 0);
	assert_int_equal(cnt, 1);

	/* a namespace with a link whose only user is a handle never put */
	spare_fd = task_net_fd(rt, spare, NULL);
	assert_true(link_create(rt, sk, spare_fd, BPF_SK_LOOKUP) >= 0);
	nsbpf_task_exit(spare);
	(void)kept;

	assert_true(count_fds() > before);
	nsbpf_runtime_free(rt);
	assert_int_equal(count_fds(), before);
}

/*
 * A runtime freed while the teardown of namespaces it just dropped may still be queued: each
 * had a link and a direct flow dissector; half of them still have their task.
 */
static void test_runtime_free_during_teardown(void **state)
{
	int before = count_fds(), i, prog, flow;
	struct nsbpf_runtime *rt;
	struct nsbpf_task *task;

	(void)state;
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	prog = sk_lookup_load(rt);
	flow = flow_load(rt);
	for (i = 0; i < 32; i++) {
		int ns_fd;

		task = child_task(rt);
		ns_fd = task_net_fd(rt, task, NULL);
		assert_true(link_create(rt, prog, ns_fd, BPF_SK_LOOKUP) >= 0);
		assert_int_equal(nsbpf_set_current_task(rt, task), 0);
		assert_int_equal(flow_attach(rt, BPF_PROG_ATTACH, flow), 0);
		assert_int_equal(nsbpf_set_current_task(rt, NULL), 0);
		close_fd(rt, ns_fd);
		if (i % 2)
			nsbpf_task_exit(task);
	}
	nsbpf_runtime_free(rt);
	assert_int_equal(count_fds(), before);
}

/* ---- 5. The first bpf() calls of a runtime, racing --------------------------------------- */

/*
 * Threads making a runtime's first bpf() calls at once each build a BPF state, and all but one
 * throw theirs away. Throwing one away must not touch the state that won: a flow dissector
 * the winner attached meanwhile stays attached. Namespaces dropped at the same moment keep
 * the namespace worker busy, which holds the losing state's teardown long enough for the
 * attach to come first.
 *
 * Two bugs this test found: netns_bpf_pernet_pre_exit() takes the BPF state from the runtime,
 * and a state used to register its pernet operations before it was published (a namespace torn
 * down in between made the netns worker dereference NULL) while a state that lost the race to
 * publish unregistered them (their pre_exit then ran with the winner's state and detached
 * everything it had). State creation is serialised now (bpf_state_get()).
 */
#define RACE_ROUNDS 30
#define RACE_TASKS  64

struct state_race {
	struct nsbpf_runtime *rt;
	pthread_barrier_t start;
	struct nsbpf_task *tasks[RACE_TASKS];
	long prog, attach;
};

static void *race_attacher(void *arg)
{
	struct state_race *r = arg;
	union bpf_attr attr;

	pthread_barrier_wait(&r->start);
	r->prog = prog_load(r->rt, BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 0);
	memset(&attr, 0, sizeof(attr));
	attr.attach_bpf_fd = (uint32_t)r->prog;
	attr.attach_type = BPF_FLOW_DISSECTOR;
	r->attach = r->prog < 0 ? r->prog : sys_bpf(r->rt, BPF_PROG_ATTACH, &attr);
	return NULL;
}

static void *race_other(void *arg)
{
	struct state_race *r = arg;

	pthread_barrier_wait(&r->start);
	next_id(r->rt, BPF_PROG_GET_NEXT_ID, 0);
	return NULL;
}

static void *race_dropper(void *arg)
{
	struct state_race *r = arg;
	unsigned int i;

	pthread_barrier_wait(&r->start);
	for (i = 0; i < RACE_TASKS; i++)
		nsbpf_task_exit(r->tasks[i]);
	return NULL;
}

static void test_state_creation_race_keeps_attachments(void **state)
{
	static struct state_race r;
	unsigned int round, i, lost = 0;
	pthread_t threads[3];
	int init_fd;

	(void)state;
	for (round = 0; round < RACE_ROUNDS; round++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(nsbpf_runtime_new(NULL, &r.rt), 0);
		/* namespaces only: no bpf() call, nothing that makes the BPF state */
		for (i = 0; i < RACE_TASKS; i++)
			r.tasks[i] = child_task(r.rt);
		assert_int_equal(pthread_barrier_init(&r.start, NULL, 3), 0);
		/* the dropper first: started last, it often came too late to delay anything */
		assert_int_equal(pthread_create(&threads[0], NULL, race_dropper, &r), 0);
		assert_int_equal(pthread_create(&threads[1], NULL, race_attacher, &r), 0);
		assert_int_equal(pthread_create(&threads[2], NULL, race_other, &r), 0);
		for (i = 0; i < 3; i++)
			assert_int_equal(pthread_join(threads[i], NULL), 0);
		pthread_barrier_destroy(&r.start);
		assert_true(r.prog >= 0);
		assert_int_equal(r.attach, 0);
		init_fd = init_net_fd(r.rt);
		lost += query_cnt(r.rt, init_fd, BPF_FLOW_DISSECTOR, NULL) != 1;
		close_fd(r.rt, init_fd);
		close_fd(r.rt, (int)r.prog);
		nsbpf_runtime_free(r.rt);
	}
	if (lost)
		fprintf(stderr, "%u of %u attachments lost\n", lost, RACE_ROUNDS);
	assert_int_equal(lost, 0);
}

/* ---- 6. Threads against namespaces coming and going --------------------------------------- */

/*
 * Each thread acts as its own task and owns its fds: a number closed by one thread may come
 * back at once as another thread's object, so numbers are shared only on purpose, by
 * op_link_create_stale(). Namespaces are shared through a pool of handles: a thread puts the
 * namespace it unshares there, others take references from it to open fds or setns into it,
 * and the slot's handle is dropped at random, so namespaces die while threads hold links (and
 * direct attachments) on them. What a thread knows about its own links makes results exact
 * where they can be: a link whose namespace is held by an open fd of that thread and that was
 * not detached must update, report and be queried as attached; a detached one must answer
 * -ENOLINK.
 */
#define NR_THREADS    4
#define NR_SK_PROGS   4
#define NR_FLOW_PROGS 2
#define POOL_SIZE     8
#define NS_FDS	      4
#define MAX_LINKS     24
/* a second or two in either build; NSBPF_NETNS_STRESS_OPS overrides */
#ifdef NSBPF_SANITIZE
#define DEFAULT_OPS 400000
#else
#define DEFAULT_OPS 1000000
#endif

struct stress {
	struct nsbpf_runtime *rt;
	struct nsbpf_net *init_net;
	int sk[NR_SK_PROGS], flow[NR_FLOW_PROGS];
	uint32_t sk_id[NR_SK_PROGS], flow_id[NR_FLOW_PROGS];
	pthread_mutex_t pool_lock; /* protects pool[] */
	struct nsbpf_net *pool[POOL_SIZE];
	unsigned long ops_per_thread;
	_Atomic unsigned long failures;
	_Atomic unsigned long created, e2big, eexist, enolink, defunct_seen, stale_ok, exact;
};

struct stress_ns_fd {
	int fd; /* -1: free */
	uint32_t inum;
};

struct stress_link {
	int fd; /* -1: free */
	int ns; /* index in ns_fds of the fd holding its namespace, -1 once that fd is closed */
	uint32_t inum;
	bool flow;
	bool detached;
	int prog; /* index in sk[] or flow[] */
};

struct worker {
	struct stress *s;
	pthread_t thread;
	unsigned int idx;
	uint32_t seed;
	struct nsbpf_task *task;
	struct stress_ns_fd ns_fds[NS_FDS];
	struct stress_link links[MAX_LINKS];
	int stale_fd; /* an ns fd number this thread closed: -1 none */
};

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* cmocka's asserts must not run off the main thread: failures are counted and printed. */
static void stress_fail(struct worker *w, int line, const char *what, long got)
{
	if (atomic_fetch_add(&w->s->failures, 1) < 20)
		fprintf(stderr, "thread %u, line %d: %s (got %ld)\n", w->idx, line, what, got);
}

#define CHECK(w, cond, got)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			stress_fail(w, __LINE__, #cond, (long)(got));                              \
	} while (0)

static bool known_prog_id(const struct stress *s, uint32_t id, bool flow)
{
	unsigned int i;

	for (i = 0; i < (flow ? NR_FLOW_PROGS : NR_SK_PROGS); i++)
		if ((flow ? s->flow_id[i] : s->sk_id[i]) == id)
			return true;
	return false;
}

static int prog_fd_of(const struct stress *s, bool flow, int idx)
{
	return flow ? s->flow[idx] : s->sk[idx];
}

static uint32_t prog_id_of(const struct stress *s, bool flow, int idx)
{
	return flow ? s->flow_id[idx] : s->sk_id[idx];
}

static struct stress_link *random_link(struct worker *w)
{
	unsigned int i, start = next_rand(&w->seed) % MAX_LINKS;

	for (i = 0; i < MAX_LINKS; i++) {
		struct stress_link *l = &w->links[(start + i) % MAX_LINKS];

		if (l->fd >= 0)
			return l;
	}
	return NULL;
}

static int random_ns_fd(struct worker *w)
{
	unsigned int i, start = next_rand(&w->seed) % NS_FDS;

	for (i = 0; i < NS_FDS; i++)
		if (w->ns_fds[(start + i) % NS_FDS].fd >= 0)
			return (int)((start + i) % NS_FDS);
	return -1;
}

static void close_link(struct worker *w, struct stress_link *l)
{
	long err = nsbpf_fd_close(w->s->rt, l->fd);

	CHECK(w, err == 0, err);
	l->fd = -1;
}

/* The task moves to a new namespace, which goes to the pool (dropping what was there). */
static void op_unshare(struct worker *w)
{
	struct stress *s = w->s;
	struct nsbpf_net *net, *old;
	long err = nsbpf_task_unshare(w->task, NSBPF_CLONE_NEWNET);
	unsigned int slot = next_rand(&w->seed) % POOL_SIZE;

	CHECK(w, err == 0, err);
	err = nsbpf_task_get_net(w->task, &net);
	CHECK(w, err == 0, err);
	if (err)
		return;
	pthread_mutex_lock(&s->pool_lock);
	old = s->pool[slot];
	s->pool[slot] = net;
	pthread_mutex_unlock(&s->pool_lock);
	if (old)
		nsbpf_net_put(old);
}

/* The task moves on: to init_net or to a namespace of the pool. */
static void op_setns(struct worker *w)
{
	struct stress *s = w->s;
	unsigned int slot = next_rand(&w->seed) % POOL_SIZE;
	struct nsbpf_net *net;
	long err;

	pthread_mutex_lock(&s->pool_lock);
	net = s->pool[slot] ? nsbpf_net_get(s->pool[slot]) : nsbpf_net_get(s->init_net);
	pthread_mutex_unlock(&s->pool_lock);
	err = nsbpf_task_setns(w->task, net, next_rand(&w->seed) % 2 ? NSBPF_CLONE_NEWNET : 0);
	CHECK(w, err == 0, err);
	nsbpf_net_put(net);
}

static void op_pool_drop(struct worker *w)
{
	struct stress *s = w->s;
	unsigned int slot = next_rand(&w->seed) % POOL_SIZE;
	struct nsbpf_net *net;

	pthread_mutex_lock(&s->pool_lock);
	net = s->pool[slot];
	s->pool[slot] = NULL;
	pthread_mutex_unlock(&s->pool_lock);
	if (net)
		nsbpf_net_put(net);
}

/* An fd on a namespace of the pool, or on the task's own when the slot is empty. */
static void op_open_ns(struct worker *w)
{
	struct stress *s = w->s;
	unsigned int i, slot = next_rand(&w->seed) % POOL_SIZE;
	struct nsbpf_net *net;
	long fd;

	for (i = 0; i < NS_FDS && w->ns_fds[i].fd >= 0; i++)
		;
	if (i == NS_FDS)
		return;
	pthread_mutex_lock(&s->pool_lock);
	net = s->pool[slot] ? nsbpf_net_get(s->pool[slot]) : NULL;
	pthread_mutex_unlock(&s->pool_lock);
	if (!net) {
		fd = nsbpf_task_get_net(w->task, &net);
		CHECK(w, fd == 0, fd);
		if (fd)
			return;
	}
	fd = nsbpf_fd_install_net(s->rt, net, true);
	CHECK(w, fd >= 0, fd);
	if (fd >= 0) {
		w->ns_fds[i].fd = (int)fd;
		w->ns_fds[i].inum = nsbpf_net_inum(net);
	}
	nsbpf_net_put(net);
}

static void op_close_ns(struct worker *w)
{
	int i = random_ns_fd(w), j;
	long err;

	if (i < 0)
		return;
	err = nsbpf_fd_close(w->s->rt, w->ns_fds[i].fd);
	CHECK(w, err == 0, err);
	w->stale_fd = w->ns_fds[i].fd;
	w->ns_fds[i].fd = -1;
	/* from now on nothing of ours keeps those links' namespace alive */
	for (j = 0; j < MAX_LINKS; j++)
		if (w->links[j].fd >= 0 && w->links[j].ns == i)
			w->links[j].ns = -1;
}

static void op_link_create(struct worker *w, bool flow)
{
	struct stress *s = w->s;
	int ns = random_ns_fd(w), prog;
	struct stress_link *l;
	unsigned int i;
	long fd;

	if (ns < 0)
		return;
	for (i = 0; i < MAX_LINKS && w->links[i].fd >= 0; i++)
		;
	if (i == MAX_LINKS) {
		i = next_rand(&w->seed) % MAX_LINKS;
		close_link(w, &w->links[i]);
	}
	prog = (int)(next_rand(&w->seed) % (flow ? NR_FLOW_PROGS : NR_SK_PROGS));
	fd = link_create(s->rt, prog_fd_of(s, flow, prog), w->ns_fds[ns].fd,
			 flow ? BPF_FLOW_DISSECTOR : BPF_SK_LOOKUP);
	/* full (64 sk_lookup, 1 flow dissector); a direct flow dissector there or in init_net */
	CHECK(w, fd >= 0 || fd == -E2BIG || (flow && fd == -EEXIST), fd);
	if (fd == -E2BIG)
		atomic_fetch_add(&s->e2big, 1);
	else if (fd == -EEXIST)
		atomic_fetch_add(&s->eexist, 1);
	if (fd < 0)
		return;
	atomic_fetch_add(&s->created, 1);
	l = &w->links[i];
	l->fd = (int)fd;
	l->ns = ns;
	l->inum = w->ns_fds[ns].inum;
	l->flow = flow;
	l->detached = false;
	l->prog = prog;
}

/*
 * LINK_CREATE on the number of an ns fd this thread closed: meanwhile any thread may have
 * got that number for anything (not ours, a link, a program, another namespace's fd).
 */
static void op_link_create_stale(struct worker *w)
{
	struct stress *s = w->s;
	long fd;

	if (w->stale_fd < 0)
		return;
	fd = link_create(s->rt, s->sk[0], w->stale_fd, BPF_SK_LOOKUP);
	CHECK(w, fd >= 0 || fd == -EBADF || fd == -EINVAL || fd == -E2BIG, fd);
	if (fd >= 0) {
		atomic_fetch_add(&s->stale_ok, 1);
		fd = nsbpf_fd_close(s->rt, (int)fd);
		CHECK(w, fd == 0, fd);
	}
	w->stale_fd = -1;
}

static void op_link_update(struct worker *w)
{
	struct stress *s = w->s;
	struct stress_link *l = random_link(w);
	unsigned int nr, variant = next_rand(&w->seed) % 8;
	int prog;
	long err;

	if (!l)
		return;
	nr = l->flow ? NR_FLOW_PROGS : NR_SK_PROGS;
	prog = (int)(next_rand(&w->seed) % nr);
	if (variant == 0) {
		/* a program of the other type: -EINVAL, on a defunct link too */
		err = link_update(s->rt, l->fd, prog_fd_of(s, !l->flow, 0), 0, 0);
		CHECK(w, err == -EINVAL, err);
		return;
	}
	if (variant == 1) {
		/* REPLACE naming a program that is not the link's: -EPERM, defunct or not */
		int wrong = (l->prog + 1) % (int)nr;

		err = link_update(s->rt, l->fd, prog_fd_of(s, l->flow, prog), BPF_F_REPLACE,
				  prog_fd_of(s, l->flow, wrong));
		CHECK(w, err == -EPERM, err);
		return;
	}
	if (variant == 2)
		err = link_update(s->rt, l->fd, prog_fd_of(s, l->flow, prog), BPF_F_REPLACE,
				  prog_fd_of(s, l->flow, l->prog));
	else
		err = link_update(s->rt, l->fd, prog_fd_of(s, l->flow, prog), 0, 0);
	if (l->detached) {
		CHECK(w, err == -ENOLINK, err);
	} else if (l->ns >= 0) {
		CHECK(w, err == 0, err);
		atomic_fetch_add(&s->exact, 1);
	} else {
		CHECK(w, err == 0 || err == -ENOLINK, err);
	}
	if (err == -ENOLINK)
		atomic_fetch_add(&s->enolink, 1);
	if (!err)
		l->prog = prog;
}

static void op_link_detach(struct worker *w)
{
	struct stress_link *l = random_link(w);
	long err;

	if (!l)
		return;
	err = link_detach(w->s->rt, l->fd);
	CHECK(w, err == 0, err);
	l->detached = true;
}

static void op_link_close(struct worker *w)
{
	struct stress_link *l = random_link(w);

	if (l)
		close_link(w, l);
}

static void op_link_info(struct worker *w)
{
	struct stress *s = w->s;
	struct stress_link *l = random_link(w);
	struct bpf_link_info info;
	long err;

	if (!l)
		return;
	err = link_info(s->rt, l->fd, &info);
	CHECK(w, err == 0, err);
	CHECK(w, info.type == BPF_LINK_TYPE_NETNS, info.type);
	CHECK(w, info.prog_id == prog_id_of(s, l->flow, l->prog), info.prog_id);
	CHECK(w, info.netns.attach_type == (l->flow ? BPF_FLOW_DISSECTOR : BPF_SK_LOOKUP),
	      info.netns.attach_type);
	if (l->detached) {
		CHECK(w, info.netns.netns_ino == 0, info.netns.netns_ino);
	} else if (l->ns >= 0) {
		CHECK(w, info.netns.netns_ino == l->inum, info.netns.netns_ino);
		atomic_fetch_add(&s->exact, 1);
	} else {
		CHECK(w, info.netns.netns_ino == 0 || info.netns.netns_ino == l->inum,
		      info.netns.netns_ino);
	}
	if (info.netns.netns_ino == 0)
		atomic_fetch_add(&s->defunct_seen, 1);
}

/*
 * PROG_QUERY of a namespace this thread holds: a known program set, the count within the
 * limit, every slot past the count zeroed; and if one of our links is attached there, its
 * program is among them.
 */
static void op_query(struct worker *w)
{
	struct stress *s = w->s;
	int ns = random_ns_fd(w);
	bool flow = next_rand(&w->seed) % 4 == 0;
	uint32_t ids[SK_LOOKUP_MAX + 1], cnt = 0, i, want = 0;
	struct stress_link *l = random_link(w);
	bool found = false;
	long err;

	if (ns < 0)
		return;
	if (l && l->ns == ns && !l->detached && l->flow == flow)
		want = prog_id_of(s, flow, l->prog);
	memset(ids, 0xff, sizeof(ids));
	err = query(s->rt, w->ns_fds[ns].fd, flow ? BPF_FLOW_DISSECTOR : BPF_SK_LOOKUP, ids,
		    SK_LOOKUP_MAX, &cnt);
	CHECK(w, err == 0, err);
	CHECK(w, cnt <= (flow ? 1 : SK_LOOKUP_MAX), cnt);
	for (i = 0; i < SK_LOOKUP_MAX; i++) {
		/* nothing attached: nothing written; else every slot past the count zeroed */
		if (i < cnt)
			CHECK(w, known_prog_id(s, ids[i], flow), ids[i]);
		else
			CHECK(w, ids[i] == (cnt ? 0 : 0xffffffff), ids[i]);
		found |= i < cnt && ids[i] == want;
	}
	CHECK(w, ids[SK_LOOKUP_MAX] == 0xffffffff, ids[SK_LOOKUP_MAX]);
	if (want) {
		CHECK(w, found, want);
		atomic_fetch_add(&s->exact, 1);
	}
}

/* PROG_ATTACH / PROG_DETACH of the flow dissector in whatever namespace the task is in. */
static void op_flow_direct(struct worker *w)
{
	struct stress *s = w->s;
	int prog = s->flow[next_rand(&w->seed) % NR_FLOW_PROGS];
	long err;

	if (next_rand(&w->seed) % 2) {
		/* a link there, or init_net against the others; the same program again */
		err = flow_attach(s->rt, BPF_PROG_ATTACH, prog);
		CHECK(w, err == 0 || err == -EEXIST || err == -EINVAL, err);
	} else {
		/* a link there; nothing or another program attached */
		err = flow_attach(s->rt, BPF_PROG_DETACH, prog);
		CHECK(w, err == 0 || err == -EINVAL || err == -ENOENT, err);
	}
}

static void *stress_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	unsigned long n;
	long err;
	int i;

	err = nsbpf_task_new(s->rt, NULL, &w->task);
	CHECK(w, err == 0, err);
	if (err)
		return NULL;
	err = nsbpf_set_current_task(s->rt, w->task);
	CHECK(w, err == 0, err);
	for (n = 0; n < s->ops_per_thread; n++) {
		uint32_t r = next_rand(&w->seed) % 100;

		if (r < 3)
			op_unshare(w);
		else if (r < 5)
			op_setns(w);
		else if (r < 8)
			op_pool_drop(w);
		else if (r < 16)
			op_open_ns(w);
		else if (r < 21)
			op_close_ns(w);
		else if (r < 40)
			op_link_create(w, false);
		else if (r < 43)
			op_link_create(w, true);
		else if (r < 44)
			op_link_create_stale(w);
		else if (r < 60)
			op_link_update(w);
		else if (r < 65)
			op_link_detach(w);
		else if (r < 73)
			op_link_close(w);
		else if (r < 82)
			op_link_info(w);
		else if (r < 95)
			op_query(w);
		else
			op_flow_direct(w);
	}

	for (i = 0; i < MAX_LINKS; i++)
		if (w->links[i].fd >= 0)
			close_link(w, &w->links[i]);
	for (i = 0; i < NS_FDS; i++) {
		if (w->ns_fds[i].fd >= 0) {
			err = nsbpf_fd_close(s->rt, w->ns_fds[i].fd);
			CHECK(w, err == 0, err);
		}
	}
	/* a program this task left attached where it is now: it goes with the namespace */
	nsbpf_set_current_task(s->rt, NULL);
	nsbpf_task_exit(w->task);
	return NULL;
}

static unsigned long stress_ops(void)
{
	const char *env = getenv("NSBPF_NETNS_STRESS_OPS");

	return env && *env ? strtoul(env, NULL, 0) : DEFAULT_OPS;
}

static void test_stress_links_and_namespaces(void **state)
{
	static struct stress s;
	static struct worker workers[NR_THREADS];
	struct timespec t0, t1;
	unsigned int i, j, detached = 0;
	int before = count_fds();
	double elapsed;
	long err;

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(workers, 0, sizeof(workers));
	pthread_mutex_init(&s.pool_lock, NULL);
	s.ops_per_thread = stress_ops() / NR_THREADS;
	assert_int_equal(nsbpf_runtime_new(NULL, &s.rt), 0);
	assert_int_equal(nsbpf_net_get_init(s.rt, &s.init_net), 0);
	for (i = 0; i < NR_SK_PROGS; i++) {
		s.sk[i] = sk_lookup_load(s.rt);
		s.sk_id[i] = prog_id(s.rt, s.sk[i]);
	}
	for (i = 0; i < NR_FLOW_PROGS; i++) {
		s.flow[i] = flow_load(s.rt);
		s.flow_id[i] = prog_id(s.rt, s.flow[i]);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NR_THREADS; i++) {
		struct worker *w = &workers[i];

		w->s = &s;
		w->idx = i;
		w->seed = 0x9e3779b9u * (i + 1) | 1;
		w->stale_fd = -1;
		for (j = 0; j < NS_FDS; j++)
			w->ns_fds[j].fd = -1;
		for (j = 0; j < MAX_LINKS; j++)
			w->links[j].fd = -1;
		assert_int_equal(pthread_create(&w->thread, NULL, stress_worker, w), 0);
	}
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%lu ops in %.2f s on %d threads: %lu links created, %lu -E2BIG, %lu -EEXIST, "
	       "%lu -ENOLINK, %lu defunct infos, %lu links on stale fds, %lu exact checks of live "
	       "links\n",
	       s.ops_per_thread * NR_THREADS, elapsed, NR_THREADS, atomic_load(&s.created),
	       atomic_load(&s.e2big), atomic_load(&s.eexist), atomic_load(&s.enolink),
	       atomic_load(&s.defunct_seen), atomic_load(&s.stale_ok), atomic_load(&s.exact));
	assert_int_equal(atomic_load(&s.failures), 0);
	/* the races must have happened for the run to mean anything */
	assert_true(atomic_load(&s.created) > 0);
	assert_true(atomic_load(&s.enolink) > 0);

	/* every namespace dropped: only init_net may still have a flow dissector */
	for (i = 0; i < POOL_SIZE; i++)
		if (s.pool[i])
			nsbpf_net_put(s.pool[i]);
	assert_int_equal(nsbpf_runtime_flush(s.rt), 0);
	for (i = 0; i < NR_FLOW_PROGS; i++) {
		err = flow_attach(s.rt, BPF_PROG_DETACH, s.flow[i]);
		assert_true(err == 0 || err == -ENOENT);
		detached += err == 0;
	}
	assert_true(detached <= 1);

	/* no link left, and no program held by anything but its fd */
	assert_int_equal(next_id(s.rt, BPF_LINK_GET_NEXT_ID, 0), -ENOENT);
	for (i = 0; i < NR_SK_PROGS; i++)
		close_fd(s.rt, s.sk[i]);
	for (i = 0; i < NR_FLOW_PROGS; i++)
		close_fd(s.rt, s.flow[i]);
	assert_int_equal(next_id(s.rt, BPF_PROG_GET_NEXT_ID, 0), -ENOENT);
	nsbpf_net_put(s.init_net);
	nsbpf_runtime_free(s.rt);
	pthread_mutex_destroy(&s.pool_lock);
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_dissector_init_net_exclusion_direct),
		cmocka_unit_test(test_flow_dissector_init_net_exclusion_links),
		cmocka_unit_test(test_direct_attach_released_task_exits),
		cmocka_unit_test(test_direct_attach_released_task_setns),
		cmocka_unit_test(test_direct_attach_replace_drops_old),
		cmocka_unit_test(test_links_hold_programs_and_go_defunct),
		cmocka_unit_test(test_sk_lookup_limit_per_namespace),
		cmocka_unit_test(test_run_array_and_sk_lookup_switch),
		cmocka_unit_test(test_runtime_free_with_attachments),
		cmocka_unit_test(test_runtime_free_during_teardown),
		cmocka_unit_test(test_state_creation_race_keeps_attachments),
		cmocka_unit_test(test_stress_links_and_namespaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
