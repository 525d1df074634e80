// SPDX-License-Identifier: MIT
/*
 * info.c - kdiff scenario: OBJ_GET_INFO_BY_FD. Every deterministic field of a program's and a
 * map's info (see transcript.c for the few left out), then the buffer rules: an info_len smaller
 * than the struct fills that much and writes it back, a larger one is accepted only with a zero
 * tail (-E2BIG otherwise), bytes the object does not fill echo what the caller passed, arrays
 * (map ids, xlated instructions) fill up to the caller's count and report the real one. And the
 * fd rules: a closed fd is -EBADFD (only this command says so), a non-bpf fd -EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static long info_call(int fd, void *info, __u32 *len)
{
	union bpf_attr attr;
	long ret;

	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = *len;
	attr.info.info = (uintptr_t)info;
	ret = tr_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
	*len = attr.info.info_len;
	return ret;
}

static void lengths(int fd, const char *what, size_t size)
{
	unsigned char buf[4096];
	__u32 len;
	long ret;

	tr_say("# info_len rules, %s", what);
	memset(buf, 0, sizeof(buf));
	len = 8;
	ret = tr_rc(info_call(fd, buf, &len), "info(%s, len 8)", tr_fdname(fd));
	tr_say("  info_len %u, id %s, byte 8 %s", len,
	       tr_id(strcmp(what, "map") ? TR_PROG : TR_MAP, *(__u32 *)(buf + 4)),
	       ret ? "-" : buf[8] ? "written" : "untouched");
	len = 0;
	tr_rc(info_call(fd, buf, &len), "info(%s, len 0)", tr_fdname(fd));
	tr_say("  info_len %u", len);
	len = 16;
	tr_rc(info_call(fd, NULL, &len), "info(%s, NULL, len 16)", tr_fdname(fd));
	/* Larger than our struct, zero tail: accepted; info_len comes back as the size the
	 * implementation fills (the kernel's own struct may be larger than our header's). */
	memset(buf, 0, sizeof(buf));
	len = 1024;
	tr_rc(info_call(fd, buf, &len), "info(%s, len 1024, zero tail)", tr_fdname(fd));
	tr_say("  info_len %u (our header's sizeof: %zu)", len, size);
	memset(buf, 0, sizeof(buf));
	buf[1000] = 1;
	len = 1024;
	tr_rc(info_call(fd, buf, &len), "info(%s, len 1024, byte 1000 set)", tr_fdname(fd));
	len = 4097;
	tr_rc(info_call(fd, buf, &len), "info(%s, len 4097)", tr_fdname(fd));
}

int main(void)
{
	struct bpf_insn insns[] = {
		INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 0), INSN(0, 0, 0, 0, 0),
		INSN(BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, 0), INSN(0, 0, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 7),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_RDONLY_PROG);
	struct bpf_prog_info pinfo;
	struct bpf_insn xl[2];
	__u32 len, ids[1];
	int m1, m2, p, fd, pipefd[2];

	tr_begin("info");
	m1 = tr_fd(bpf_map_create(BPF_MAP_TYPE_HASH, "info_m1", 8, 16, 32, NULL),
		   "bpf_map_create(HASH, \"info_m1\", 8, 16, 32)");
	m2 = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "info_m2", 4, 4, 2, &mopts),
		   "bpf_map_create(ARRAY, \"info_m2\", 4, 4, 2, RDONLY_PROG)");
	insns[0].imm = m1;
	insns[2].imm = m2;
	p = tr_fd(bpf_prog_load(BPF_PROG_TYPE_XDP, "info_prog", "Dual BSD/GPL", insns, 6, NULL),
		  "bpf_prog_load(XDP, \"info_prog\", Dual BSD/GPL, two maps)");
	tr_map_info(m1);
	tr_fdinfo(m1);
	tr_map_info(m2);
	tr_prog_info(p);
	tr_fdinfo(p);

	tr_say("# arrays shorter than the real count");
	memset(&pinfo, 0, sizeof(pinfo));
	memset(xl, 0, sizeof(xl));
	pinfo.nr_map_ids = 1;
	pinfo.map_ids = (uintptr_t)ids;
	pinfo.xlated_prog_len = sizeof(xl);
	pinfo.xlated_prog_insns = (uintptr_t)xl;
	len = sizeof(pinfo);
	tr_rc(info_call(p, &pinfo, &len), "info(%s, 1 map id, 2 insns)", tr_fdname(p));
	tr_say("  nr_map_ids %u, map_ids[0] %s, xlated_prog_len %u, xl[1] code %02x",
	       pinfo.nr_map_ids, tr_id(TR_MAP, ids[0]), pinfo.xlated_prog_len, xl[1].code);
	/* An array pointer with a zero count: nothing written, the count reported. */
	memset(&pinfo, 0, sizeof(pinfo));
	pinfo.map_ids = (uintptr_t)ids;
	len = sizeof(pinfo);
	tr_rc(info_call(p, &pinfo, &len), "info(%s, map_ids ptr, count 0)", tr_fdname(p));
	tr_say("  nr_map_ids %u, map_ids echoed %s", pinfo.nr_map_ids,
	       pinfo.map_ids == (uintptr_t)ids ? "yes" : "no");
	/* A bad array pointer with a count. */
	memset(&pinfo, 0, sizeof(pinfo));
	pinfo.nr_map_ids = 2;
	pinfo.map_ids = 8;
	len = sizeof(pinfo);
	tr_rc(info_call(p, &pinfo, &len), "info(%s, map_ids ptr 8, count 2)", tr_fdname(p));

	lengths(p, "prog", sizeof(struct bpf_prog_info));
	lengths(m1, "map", sizeof(struct bpf_map_info));

	tr_say("# fds");
	fd = dup(m1);
	close(fd);
	len = sizeof(pinfo);
	tr_rc(info_call(fd, &pinfo, &len), "info(closed fd)");
	len = sizeof(pinfo);
	tr_rc(info_call(-1, &pinfo, &len), "info(fd -1)");
	if (pipe(pipefd))
		return 1;
	len = sizeof(pinfo);
	tr_rc(info_call(pipefd[0], &pinfo, &len), "info(a pipe)");
	close(pipefd[0]);
	close(pipefd[1]);
	fd = open("/dev/null", O_RDONLY);
	len = sizeof(pinfo);
	tr_rc(info_call(fd, &pinfo, &len), "info(/dev/null)");
	close(fd);

	tr_close(p);
	tr_close(m2);
	tr_close(m1);
	return tr_end();
}
