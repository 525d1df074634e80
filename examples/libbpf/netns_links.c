// SPDX-License-Identifier: MIT
/*
 * netns_links.c - an ordinary libbpf program: it enters a new network namespace, attaches an
 * sk_lookup program there with a bpf_link, reads the link back, then leaves the namespace and
 * closes its last fd to it, so that the namespace is torn down: the link stays, defunct.
 *
 * With --hold it waits for its standard input to end while the link is attached, so that other
 * processes (bpftool link show) can look at it.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 1;
}

static int link_info(int link, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(link, info, &len);
}

static void show_link(int link, const char *when)
{
	struct bpf_link_info info;

	if (link_info(link, &info)) {
		fail("bpf_obj_get_info_by_fd");
		return;
	}
	printf("%s: link %u, type %u (netns), prog %u, netns_ino %u, attach_type %u\n", when,
	       info.id, info.type, info.prog_id, info.netns.netns_ino, info.netns.attach_type);
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_SK_LOOKUP);
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	struct bpf_link_info info;
	__u32 ids[4], cnt = 4;
	int home, ns, prog, link, i;
	struct stat st;
	char line[64];

	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return fail("open /proc/self/ns/net");
	if (unshare(CLONE_NEWNET))
		return fail("unshare(CLONE_NEWNET)");
	ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns < 0 || fstat(ns, &st))
		return fail("open the new namespace");
	printf("a new network namespace: inode %lu\n", (unsigned long)st.st_ino);

	prog = bpf_prog_load(BPF_PROG_TYPE_SK_LOOKUP, "steer_all", "GPL", insns, 2, &opts);
	if (prog < 0)
		return fail("bpf_prog_load(SK_LOOKUP)");
	link = bpf_link_create(prog, ns, BPF_SK_LOOKUP, NULL);
	if (link < 0)
		return fail("bpf_link_create(SK_LOOKUP)");
	show_link(link, "attached");
	if (bpf_prog_query(ns, BPF_SK_LOOKUP, 0, NULL, ids, &cnt))
		return fail("bpf_prog_query");
	printf("the namespace runs %u sk_lookup program(s), the first with id %u\n", cnt, ids[0]);

	if (argc > 1 && !strcmp(argv[1], "--hold")) {
		printf("holding the link until standard input ends\n");
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin))
			;
	}

	/* Nothing keeps the namespace alive once we leave it and close its fd: not the link. */
	if (setns(home, CLONE_NEWNET))
		return fail("setns(back)");
	close(ns);
	/* the teardown is deferred work, on the kernel as here */
	for (i = 0; i < 250 && !link_info(link, &info) && info.netns.netns_ino; i++)
		nanosleep(&pause, NULL);
	show_link(link, "after its teardown");
	if (!bpf_link_update(link, prog, NULL) || errno != ENOLINK)
		return fail("bpf_link_update of a defunct link did not say ENOLINK");
	printf("updating the defunct link: %s, as the kernel says\n", strerror(errno));
	close(link);
	close(prog);
	close(home);
	return 0;
}
