// SPDX-License-Identifier: MIT
/*
 * ids.c - kdiff scenario: object ids. Progs, maps and BTF objects each have their own id space;
 * GET_NEXT_ID walks it upwards and GET_FD_BY_ID opens an object by id; an id disappears when the
 * last reference to its object goes. The kernel holds many objects of its own and its counters
 * are global, so the walks print only the ids this scenario created (named P1, M1, B1 when
 * created), in the order the walk returns them, and the end of each walk.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static const char *const kind_names[] = { "prog", "map", "link", "btf" };

static int next_id(enum tr_kind kind, __u32 start, __u32 *next)
{
	switch (kind) {
	case TR_PROG:
		return bpf_prog_get_next_id(start, next);
	case TR_MAP:
		return bpf_map_get_next_id(start, next);
	case TR_LINK:
		return bpf_link_get_next_id(start, next);
	default:
		return bpf_btf_get_next_id(start, next);
	}
}

static int fd_by_id(enum tr_kind kind, __u32 id)
{
	switch (kind) {
	case TR_PROG:
		return bpf_prog_get_fd_by_id(id);
	case TR_MAP:
		return bpf_map_get_fd_by_id(id);
	case TR_LINK:
		return bpf_link_get_fd_by_id(id);
	default:
		return bpf_btf_get_fd_by_id(id);
	}
}

/* Walks a whole id space and prints the scenario's own ids in walk order. */
static void walk(enum tr_kind kind)
{
	__u32 id = 0, next;
	int err, e;

	printf("walk %s ids:", kind_names[kind]);
	while (!(err = next_id(kind, id, &next))) {
		if (next <= id) {
			printf(" NOT INCREASING");
			break;
		}
		if (tr_id_known(kind, next))
			printf(" %s", tr_id(kind, next));
		id = next;
	}
	e = err ? errno : 0;
	printf("; ends %s\n", e == ENOENT ? "ENOENT" : e ? "with another error" : "early");
}

static void open_by_id(enum tr_kind kind, __u32 id, const char *what)
{
	int fd = tr_fd(fd_by_id(kind, id), "bpf_%s_get_fd_by_id(%s)", kind_names[kind], what);

	if (fd >= 0) {
		tr_obj_id(kind, fd);
		tr_close(fd);
	}
}

int main(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, btf_opts);
	__u32 pid1, pid2, mid1, mid2, bid, next;
	int p1, p2, m1, m2, btf;
	const void *blob;
	size_t size;

	tr_begin("ids");

	p1 = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "p1", "GPL", ret0, 2, NULL),
		   "bpf_prog_load(SOCKET_FILTER, \"p1\")");
	pid1 = tr_obj_id(TR_PROG, p1);
	p2 = tr_fd(bpf_prog_load(BPF_PROG_TYPE_XDP, "p2", "GPL", ret0, 2, NULL),
		   "bpf_prog_load(XDP, \"p2\")");
	pid2 = tr_obj_id(TR_PROG, p2);
	m1 = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "m1", 4, 4, 1, NULL),
		   "bpf_map_create(ARRAY, \"m1\")");
	mid1 = tr_obj_id(TR_MAP, m1);
	blob = tr_btf_blob(&size);
	btf = tr_fd(bpf_btf_load(blob, size, NULL), "bpf_btf_load(int)");
	bid = tr_obj_id(TR_BTF, btf);
	tr_btf_info(btf);
	btf_opts.btf_fd = btf;
	btf_opts.btf_key_type_id = 1;
	btf_opts.btf_value_type_id = 1;
	m2 = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "m2", 4, 4, 1, &btf_opts),
		   "bpf_map_create(ARRAY, \"m2\", btf int/int)");
	mid2 = tr_obj_id(TR_MAP, m2);
	tr_map_info(m2);

	walk(TR_PROG);
	walk(TR_MAP);
	walk(TR_BTF);

	tr_say("# lookups by id");
	open_by_id(TR_PROG, pid2, tr_id(TR_PROG, pid2));
	open_by_id(TR_MAP, mid1, tr_id(TR_MAP, mid1));
	open_by_id(TR_BTF, bid, tr_id(TR_BTF, bid));
	open_by_id(TR_PROG, 0, "0");
	open_by_id(TR_MAP, 0, "0");
	open_by_id(TR_BTF, 0, "0");
	open_by_id(TR_LINK, 0, "0");
	open_by_id(TR_PROG, 0x7fffffff, "0x7fffffff");
	tr_rc(bpf_prog_get_next_id(0xffffffff, &next), "bpf_prog_get_next_id(0xffffffff)");
	tr_rc(bpf_map_get_next_id(0x7ffffffe, &next), "bpf_map_get_next_id(0x7ffffffe)");

	tr_say("# ids after close");
	tr_close(p1);
	walk(TR_PROG);
	open_by_id(TR_PROG, pid1, tr_id(TR_PROG, pid1));
	/* The BTF object stays while the map that uses it lives. */
	tr_close(btf);
	walk(TR_BTF);
	open_by_id(TR_BTF, bid, tr_id(TR_BTF, bid));
	/* The map's id goes at its last close; its reference to the BTF object is dropped later,
	 * when the kernel's deferred free runs, so the BTF id is not looked at after this. */
	tr_close(m2);
	walk(TR_MAP);
	open_by_id(TR_MAP, mid2, tr_id(TR_MAP, mid2));
	tr_close(m1);
	tr_close(p2);
	walk(TR_PROG);
	walk(TR_MAP);
	open_by_id(TR_MAP, mid1, tr_id(TR_MAP, mid1));

	tr_say("# a new object gets a new id");
	p1 = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "p3", "GPL", ret0, 2, NULL),
		   "bpf_prog_load(SOCKET_FILTER, \"p3\")");
	pid1 = tr_obj_id(TR_PROG, p1);
	tr_say("new id above the old ones: %s", pid1 > pid2 ? "yes" : "no");
	walk(TR_PROG);
	tr_close(p1);
	return tr_end();
}
