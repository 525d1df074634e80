// SPDX-License-Identifier: MIT
/*
 * fd_lifetime.c - kdiff scenario: how long an object lives. Closing its last fd releases it at
 * once (its id is gone before close returns); a dup'ed fd, a program that uses a map, and an outer
 * map holding an inner one each keep it (an fd inherited by a child: fd_fork.c). Fds come with
 * close-on-exec set, and an fd obtained by id is a new open file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static void lookup_id(enum tr_kind kind, __u32 id)
{
	int fd = kind == TR_MAP ? bpf_map_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);

	tr_fd(fd, "get_fd_by_id(%s)", tr_id(kind, id));
	if (fd >= 0)
		tr_close(fd);
}

int main(void)
{
	struct bpf_insn insns[] = {
		INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 0), INSN(0, 0, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	LIBBPF_OPTS(bpf_map_create_opts, outer_opts);
	int m, d, p, inner, outer;
	__u32 mid, pid, iid, key = 0, val;

	tr_begin("fd_lifetime");

	tr_say("# close, dup");
	m = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "life", 4, 8, 1, NULL),
		  "bpf_map_create(ARRAY, \"life\")");
	mid = tr_obj_id(TR_MAP, m);
	tr_rc(fcntl(m, F_GETFD), "fcntl(%s, F_GETFD)", tr_fdname(m));
	tr_rc(fcntl(m, F_GETFL) & O_ACCMODE, "fcntl(%s, F_GETFL) & O_ACCMODE", tr_fdname(m));
	d = tr_fd(dup(m), "dup(%s)", tr_fdname(m));
	tr_rc(fcntl(d, F_GETFD), "fcntl(%s, F_GETFD)", tr_fdname(d));
	tr_fdinfo(d);
	tr_close(m);
	lookup_id(TR_MAP, mid);
	tr_update(d, 0, 5, BPF_ANY);
	tr_close(d);
	lookup_id(TR_MAP, mid);
	tr_update(d, 0, 5, BPF_ANY);
	tr_rc(fcntl(d, F_GETFD), "fcntl(closed %s, F_GETFD)", tr_fdname(d));

	tr_say("# fd by id is a new open file");
	m = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "life2", 4, 8, 1, NULL),
		  "bpf_map_create(ARRAY, \"life2\")");
	mid = tr_obj_id(TR_MAP, m);
	d = tr_fd(bpf_map_get_fd_by_id(mid), "bpf_map_get_fd_by_id(%s)", tr_id(TR_MAP, mid));
	tr_rc(fcntl(d, F_GETFD), "fcntl(%s, F_GETFD)", tr_fdname(d));
	tr_close(m);
	tr_update(d, 0, 6, BPF_ANY);
	tr_lookup(d, 0, NULL);
	tr_close(d);
	lookup_id(TR_MAP, mid);

	tr_say("# a program keeps its maps");
	m = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "used", 4, 8, 1, NULL),
		  "bpf_map_create(ARRAY, \"used\")");
	mid = tr_obj_id(TR_MAP, m);
	insns[0].imm = m;
	p = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "user", "GPL", insns, 4, NULL),
		  "bpf_prog_load(SOCKET_FILTER, \"user\", uses the map)");
	pid = tr_obj_id(TR_PROG, p);
	tr_close(m);
	lookup_id(TR_MAP, mid);
	tr_prog_info(p);
	/* Closing the program: its id goes at once; the map's reference is dropped by a deferred
	 * free in the kernel, so the map's id is not checked after this. */
	tr_close(p);
	lookup_id(TR_PROG, pid);

	tr_say("# an outer map keeps its inner map");
	inner = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "inner", 4, 8, 1, NULL),
		      "bpf_map_create(ARRAY, \"inner\")");
	iid = tr_obj_id(TR_MAP, inner);
	outer_opts.inner_map_fd = inner;
	outer = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "outer", 4, 4, 1, &outer_opts),
		      "bpf_map_create(ARRAY_OF_MAPS, \"outer\", inner %s)", tr_fdname(inner));
	val = inner;
	tr_rc(bpf_map_update_elem(outer, &key, &val, BPF_ANY), "update(%s, 0, fd %s)",
	      tr_fdname(outer), tr_fdname(inner));
	tr_close(inner);
	lookup_id(TR_MAP, iid);
	tr_close(outer);
	return tr_end();
}
