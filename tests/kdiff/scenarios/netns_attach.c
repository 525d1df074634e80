// SPDX-License-Identifier: MIT
/*
 * netns_attach.c - kdiff scenario: programs attached to network namespaces (SPEC §3): the flow
 * dissector attached directly and by a link, sk_lookup links, their exclusions and limits,
 * PROG_QUERY, LINK_UPDATE and LINK_DETACH, info and fdinfo, and links left defunct when their
 * namespace is torn down.
 *
 * It works in network namespaces of its own (unshare), never in the one it started in: the
 * native run must not attach anything to the host's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static int load(enum bpf_prog_type type, enum bpf_attach_type expected, int ret, const char *name)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = expected);
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(type, name, "GPL", insns, 2, &opts);

	tr_fd(fd, "bpf_prog_load(%s)", name);
	if (fd >= 0)
		tr_obj_id(TR_PROG, fd);
	return fd;
}

static const char *type_name(enum bpf_attach_type type)
{
	return type == BPF_FLOW_DISSECTOR ? "FLOW_DISSECTOR"
	       : type == BPF_SK_LOOKUP	  ? "SK_LOOKUP"
					  : "?";
}

/* PROG_QUERY with room for @room ids: the result, the count, and every slot given. */
static void query(int target, enum bpf_attach_type type, __u32 flags, __u32 room)
{
	__u32 ids[80], cnt = room, attach_flags = 123, i;
	int err;

	memset(ids, 0xff, sizeof(ids));
	err = bpf_prog_query(target, type, flags, &attach_flags, room ? ids : NULL, &cnt);
	tr_rc(err, "prog_query(%s, %s, flags %u, room %u)", tr_fdname(target), type_name(type),
	      flags, room);
	if (err && errno != ENOSPC)
		return;
	printf("  attach_flags %u, prog_cnt %u, ids:", attach_flags, cnt);
	for (i = 0; i < room; i++)
		printf(" %s", ids[i] == 0xffffffff ? "untouched" : tr_id(TR_PROG, ids[i]));
	printf("\n");
}

static void link_info(int link)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (tr_rc(bpf_obj_get_info_by_fd(link, &info, &len), "link_info(%s)", tr_fdname(link)))
		return;
	printf("  type %u, id %s, prog_id %s, netns_ino %s, attach_type %u\n", info.type,
	       tr_id(TR_LINK, info.id), tr_id(TR_PROG, info.prog_id),
	       tr_id(TR_NETNS, info.netns.netns_ino), info.netns.attach_type);
}

static int link_create(int prog, int target, enum bpf_attach_type type, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);

	return tr_fd(bpf_link_create(prog, target, type, &opts), "link_create(%s, %s, %s, %u)",
		     tr_fdname(prog), tr_fdname(target), type_name(type), flags);
}

static void link_update(int link, int prog, __u32 flags, int old)
{
	LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = flags, .old_prog_fd = (__u32)old);

	tr_rc(bpf_link_update(link, prog, &opts), "link_update(%s, %s, flags %u, old %s)",
	      tr_fdname(link), tr_fdname(prog), flags, old ? tr_fdname(old) : "0");
}

static int open_netns(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct stat st;

	tr_fd(fd, "open(/proc/self/ns/net)");
	if (fd >= 0 && !fstat(fd, &st))
		printf("  that is %s\n", tr_id(TR_NETNS, (__u32)st.st_ino));
	return fd;
}

static void flow_dissector(int ns)
{
	int p1, p2, s1, link, link2;

	tr_say("# flow dissector: attached directly");
	p1 = load(BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 0, "fd_one");
	p2 = load(BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 0, "fd_two");
	s1 = load(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 1, "lookup_one");
	query(ns, BPF_FLOW_DISSECTOR, 0, 2);
	tr_rc(bpf_prog_attach(p1, 0, BPF_FLOW_DISSECTOR, 0), "prog_attach(P1, 0, FLOW_DISSECTOR)");
	tr_rc(bpf_prog_attach(p1, 0, BPF_FLOW_DISSECTOR, 0), "prog_attach(P1 again)");
	tr_rc(bpf_prog_attach(p2, ns, BPF_FLOW_DISSECTOR, 0), "prog_attach(P2, target ns fd)");
	tr_rc(bpf_prog_attach(p2, 0, BPF_FLOW_DISSECTOR, BPF_F_ALLOW_MULTI),
	      "prog_attach(P2, ALLOW_MULTI)");
	tr_rc(bpf_prog_attach(s1, 0, BPF_SK_LOOKUP, 0), "prog_attach(sk_lookup prog, SK_LOOKUP)");
	tr_rc(bpf_prog_attach(s1, 0, BPF_FLOW_DISSECTOR, 0), "prog_attach(sk_lookup prog, FD)");
	tr_rc(bpf_prog_attach(p2, 0, BPF_FLOW_DISSECTOR, 0), "prog_attach(P2): replaces P1");
	query(ns, BPF_FLOW_DISSECTOR, 0, 2);
	query(ns, BPF_FLOW_DISSECTOR, BPF_F_QUERY_EFFECTIVE, 2);
	link_create(p1, ns, BPF_FLOW_DISSECTOR, 0);
	tr_rc(bpf_prog_detach2(p1, 0, BPF_FLOW_DISSECTOR), "prog_detach(P1, not attached)");
	tr_rc(bpf_prog_detach2(p2, ns, BPF_FLOW_DISSECTOR), "prog_detach(P2, target ns fd)");
	tr_rc(bpf_prog_detach2(s1, 0, BPF_FLOW_DISSECTOR), "prog_detach(sk_lookup prog)");
	tr_rc(bpf_prog_detach2(p2, 0, BPF_FLOW_DISSECTOR), "prog_detach(P2)");
	tr_rc(bpf_prog_detach2(p2, 0, BPF_FLOW_DISSECTOR), "prog_detach(P2 again)");
	query(ns, BPF_FLOW_DISSECTOR, 0, 2);

	tr_say("# flow dissector: one link");
	link = link_create(p1, ns, BPF_FLOW_DISSECTOR, 0);
	link_create(p2, ns, BPF_FLOW_DISSECTOR, 0);
	link_create(s1, ns, BPF_FLOW_DISSECTOR, 0);
	link_create(p1, ns, BPF_SK_LOOKUP, 0);
	tr_rc(bpf_prog_attach(p2, 0, BPF_FLOW_DISSECTOR, 0), "prog_attach(P2, a link exists)");
	tr_rc(bpf_prog_detach2(p1, 0, BPF_FLOW_DISSECTOR), "prog_detach(P1, a link exists)");
	query(ns, BPF_FLOW_DISSECTOR, 0, 2);
	link_info(link);
	tr_fdinfo(link);
	link_update(link, p2, 0, 0);
	query(ns, BPF_FLOW_DISSECTOR, 0, 1);
	link_update(link, p1, BPF_F_REPLACE, p1);
	link_update(link, p1, 0, p2);
	link_update(link, s1, 0, 0);
	link_update(link, p1, BPF_F_REPLACE, p2);
	link_update(link, p1, BPF_F_REPLACE << 1, 0);
	link_info(link);
	tr_rc(bpf_link_detach(link), "link_detach(%s)", tr_fdname(link));
	tr_rc(bpf_link_detach(link), "link_detach(%s) again", tr_fdname(link));
	link_info(link);
	link_update(link, p2, 0, 0);
	link_update(link, p2, BPF_F_REPLACE, p2);
	query(ns, BPF_FLOW_DISSECTOR, 0, 1);
	link2 = link_create(p2, ns, BPF_FLOW_DISSECTOR, 0);
	tr_close(link);
	query(ns, BPF_FLOW_DISSECTOR, 0, 1);
	tr_close(link2);
	query(ns, BPF_FLOW_DISSECTOR, 0, 1);
	tr_close(p1);
	tr_close(p2);
	tr_close(s1);
}

static void sk_lookup(int ns)
{
	int s[3], links[66], map, n, i;

	tr_say("# sk_lookup: links in attach order, up to 64");
	s[0] = load(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 1, "lookup_a");
	s[1] = load(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 1, "lookup_b");
	s[2] = load(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 0, "lookup_c");
	map = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "not_ns", 4, 4, 1, NULL), "map_create");
	link_create(s[0], ns, BPF_SK_LOOKUP, 1);
	link_create(s[0], map, BPF_SK_LOOKUP, 0);
	link_create(s[0], 9999, BPF_SK_LOOKUP, 0);
	for (i = 0; i < 3; i++)
		links[i] = link_create(s[i], ns, BPF_SK_LOOKUP, 0);
	query(ns, BPF_SK_LOOKUP, 0, 0);
	query(ns, BPF_SK_LOOKUP, 0, 2);
	query(ns, BPF_SK_LOOKUP, 0, 5);
	query(map, BPF_SK_LOOKUP, 0, 5);
	link_info(links[1]);
	link_update(links[1], s[2], 0, 0);
	query(ns, BPF_SK_LOOKUP, 0, 3);
	tr_close(links[1]);
	query(ns, BPF_SK_LOOKUP, 0, 3);
	/* two are attached: 62 more fill the namespace, the next one does not fit */
	n = 2;
	for (i = 0; i < 62; i++) {
		links[3 + i] = (int)bpf_link_create(s[i % 3], ns, BPF_SK_LOOKUP, NULL);
		n += links[3 + i] >= 0;
	}
	printf("%d links attached\n", n);
	link_create(s[0], ns, BPF_SK_LOOKUP, 0);
	query(ns, BPF_SK_LOOKUP, 0, 0);
	for (i = 0; i < 62; i++)
		if (links[3 + i] >= 0)
			close(links[3 + i]);
	tr_close(links[0]);
	tr_close(links[2]);
	query(ns, BPF_SK_LOOKUP, 0, 1);
	for (i = 0; i < 3; i++)
		tr_close(s[i]);
	tr_close(map);
}

/* Waits (up to 5 s) for the namespace's teardown to have detached @link. */
static void wait_defunct(int link)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct bpf_link_info info;
	__u32 len;
	int i;

	for (i = 0; i < 250; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(link, &info, &len) || !info.netns.netns_ino)
			return;
		nanosleep(&pause, NULL);
	}
}

static void defunct(int ns)
{
	int s1, child, link, fd_prog, fd_link;

	tr_say("# a namespace torn down leaves its links defunct");
	s1 = load(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 1, "lookup_gone");
	fd_prog = load(BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 0, "fd_gone");
	tr_rc(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
	child = open_netns();
	link = link_create(s1, child, BPF_SK_LOOKUP, 0);
	fd_link = link_create(fd_prog, child, BPF_FLOW_DISSECTOR, 0);
	link_info(link);
	tr_rc(setns(ns, CLONE_NEWNET), "setns(back)");
	tr_close(child);
	wait_defunct(link);
	wait_defunct(fd_link);
	link_info(link);
	link_info(fd_link);
	tr_fdinfo(fd_link);
	link_update(link, s1, 0, 0);
	link_update(link, fd_prog, BPF_F_REPLACE, fd_prog);
	tr_rc(bpf_link_detach(link), "link_detach(defunct)");
	tr_close(link);
	tr_close(fd_link);
	tr_close(s1);
	tr_close(fd_prog);
}

int main(void)
{
	int ns;

	tr_begin("netns_attach");
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	ns = open_netns();
	flow_dissector(ns);
	sk_lookup(ns);
	defunct(ns);
	tr_close(ns);
	return tr_end();
}
