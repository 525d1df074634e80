// SPDX-License-Identifier: MIT
/*
 * prog_load_errors.c - kdiff scenario: what BPF_PROG_LOAD accepts and refuses, and with which
 * errno. The attr checks (type, size, name, license, log attributes, flags, expected attach
 * type) run before any verification, so nsbpf must answer them as the kernel does; the
 * verifier-level refusals (unknown helper, GPL-only helper, bad map reference, uninitialised
 * register, bad jump) are what a loader sees on the same programs. Most loads go through
 * bpf(2) directly, because libbpf's bpf_prog_load() checks log attributes itself, truncates
 * names and retries with a log, which would hide the answers this scenario is after.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV64_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD64_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define STX_DW(d, s, o) INSN(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define CALL(i) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, i)
#define JA(o) INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static const struct bpf_insn ret0[] = { MOV64_IMM(0, 0), EXIT() };
static const struct bpf_insn ret1[] = { MOV64_IMM(0, 1), EXIT() };

/* bpf_trace_printk("", 8): GPL-only, and available to socket filters when the loader is root. */
static const struct bpf_insn printk[] = {
	MOV64_IMM(1, 0),   STX_DW(10, 1, -8), MOV64_REG(1, 10), ADD64_IMM(1, -8),
	MOV64_IMM(2, 8),   CALL(BPF_FUNC_trace_printk), MOV64_IMM(0, 0), EXIT(),
};

static const struct bpf_insn unknown_helper[] = { CALL(100000), MOV64_IMM(0, 0), EXIT() };
static const struct bpf_insn uninit_reg[] = { MOV64_REG(0, 2), EXIT() };
static const struct bpf_insn jump_out[] = { MOV64_IMM(0, 0), JA(5), EXIT() };
static const struct bpf_insn no_exit[] = { MOV64_IMM(0, 0), MOV64_IMM(0, 0) };

/* The ld_imm64 of a map by fd; the imm of the first half is patched per call. */
static struct bpf_insn ld_map[] = {
	INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 0),
	INSN(0, 0, 0, 0, 0),
	MOV64_IMM(0, 0),
	EXIT(),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct load {
	__u32 type;
	const struct bpf_insn *insns;
	__u32 cnt;
	const char *license;
	const char *name;	/* copied as is: may fill all 16 bytes without a NUL */
	__u32 log_level;
	char *log_buf;
	__u32 log_size;
	__u32 flags;
	__u32 expected_attach_type;
};

static long load(const struct load *l)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = l->type;
	attr.insns = (uintptr_t)l->insns;
	attr.insn_cnt = l->cnt;
	attr.license = (uintptr_t)l->license;
	if (l->name)
		memcpy(attr.prog_name, l->name, strnlen(l->name, sizeof(attr.prog_name)));
	attr.log_level = l->log_level;
	attr.log_buf = (uintptr_t)l->log_buf;
	attr.log_size = l->log_size;
	attr.prog_flags = l->flags;
	attr.expected_attach_type = l->expected_attach_type;
	return tr_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
}

static char log[65536];

/* Loads, prints, and closes a program that loaded: only the answer matters here. */
static void try(const char *what, const struct load *l)
{
	long fd = load(l);

	tr_fd(fd, "prog_load(%s)", what);
	if (fd >= 0)
		close(fd);
}

/* As try(), also saying whether the kernel wrote anything into the log buffer (its text is
 * the verifier's and is not compared). */
static void try_log(const char *what, struct load *l)
{
	long fd;

	memset(log, 0, sizeof(log));
	fd = load(l);
	tr_fd(fd, "prog_load(%s)", what);
	if (l->log_buf)
		tr_say("  log %s", l->log_buf[0] ? "written" : "empty");
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	static struct bpf_insn big[4097];
	struct load l;
	int fd, map;
	__u32 i;

	tr_begin("prog_load_errors");

	tr_say("# a good program, through libbpf");
	fd = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "ok", "GPL", ret0, N(ret0), NULL),
		   "bpf_prog_load(SOCKET_FILTER, \"ok\", GPL, ret0)");
	tr_prog_info(fd);
	tr_close(fd);

	tr_say("# type, size");
	l = (struct load){ .type = 999, .insns = ret0, .cnt = N(ret0), .license = "GPL" };
	try("type 999", &l);
	l.type = BPF_PROG_TYPE_UNSPEC;
	try("type UNSPEC", &l);
	l.type = BPF_PROG_TYPE_SOCKET_FILTER;
	l.cnt = 0;
	try("insn_cnt 0", &l);
	l.cnt = 1000001;
	try("insn_cnt 1000001", &l);
	l.insns = NULL;
	l.cnt = N(ret0);
	try("insns NULL", &l);
	/* More than BPF_MAXINSNS (4096): allowed to a loader with CAP_BPF only. */
	for (i = 0; i < N(big) - 1; i++)
		big[i] = MOV64_IMM(0, (int)i);
	big[N(big) - 1] = EXIT();
	l.insns = big;
	l.cnt = N(big);
	try("4097 insns", &l);

	tr_say("# license");
	l = (struct load){ .type = BPF_PROG_TYPE_SOCKET_FILTER, .insns = printk, .cnt = N(printk) };
	l.license = "MIT";
	try("trace_printk, license MIT", &l);
	l.license = "GPL";
	try("trace_printk, license GPL", &l);
	l.license = "Dual MIT/GPL";
	try("trace_printk, license Dual MIT/GPL", &l);
	l.license = NULL;
	try("trace_printk, license NULL", &l);
	fd = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "mit", "MIT", ret0, N(ret0), NULL),
		   "bpf_prog_load(SOCKET_FILTER, \"mit\", MIT, ret0)");
	tr_prog_info(fd);
	tr_close(fd);

	tr_say("# names");
	l = (struct load){ .type = BPF_PROG_TYPE_SOCKET_FILTER, .insns = ret0, .cnt = N(ret0),
			   .license = "GPL" };
	l.name = "a-b";
	try("name a-b", &l);
	l.name = "a b";
	try("name 'a b'", &l);
	l.name = "a.b_C9";
	try("name a.b_C9", &l);
	l.name = "0123456789abcde";
	try("name of 15 chars", &l);
	l.name = "0123456789abcdef";
	try("name of 16 chars, no NUL", &l);

	tr_say("# log attributes");
	l.name = NULL;
	l.log_buf = log;
	l.log_size = 0;
	l.log_level = 1;
	try_log("log_buf without log_size", &l);
	l.log_buf = NULL;
	l.log_size = sizeof(log);
	try_log("log_size without log_buf", &l);
	l.log_size = 0;
	try_log("log_level 1 without buffer", &l);
	l.log_level = 0;
	l.log_buf = log;
	l.log_size = sizeof(log);
	try_log("log_buf with log_level 0", &l);
	l.log_level = 0x100;
	try_log("log_level 0x100", &l);
	l.log_level = 1;
	l.log_size = 1u << 30;
	try_log("log_size 1<<30", &l);
	l.log_size = sizeof(log);
	try_log("log_level 1, good program", &l);
	l.insns = uninit_reg;
	l.cnt = N(uninit_reg);
	try_log("log_level 1, uninitialised r2", &l);
	l.insns = ret0;
	l.cnt = N(ret0);
	l.log_level = 2;
	l.log_size = 16;
	try_log("log_level 2, 16-byte log", &l);

	tr_say("# verifier-level refusals");
	l = (struct load){ .type = BPF_PROG_TYPE_SOCKET_FILTER, .license = "GPL" };
	l.insns = unknown_helper;
	l.cnt = N(unknown_helper);
	try("unknown helper 100000", &l);
	l.insns = uninit_reg;
	l.cnt = N(uninit_reg);
	try("read of uninitialised r2", &l);
	l.insns = jump_out;
	l.cnt = N(jump_out);
	try("jump out of range", &l);
	l.insns = no_exit;
	l.cnt = N(no_exit);
	try("no exit", &l);
	l.insns = ld_map;
	l.cnt = N(ld_map);
	ld_map[0].imm = 9999;
	try("ld_imm64 of fd 9999", &l);
	ld_map[0].imm = -1;
	try("ld_imm64 of fd -1", &l);
	fd = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "p", "GPL", ret0, N(ret0), NULL),
		   "bpf_prog_load(SOCKET_FILTER, \"p\", GPL, ret0)");
	ld_map[0].imm = fd;
	try("ld_imm64 of a prog fd", &l);
	map = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "m", 4, 8, 1, NULL),
		    "bpf_map_create(ARRAY, \"m\", 4, 8, 1)");
	ld_map[0].imm = map;
	ld_map[1].imm = 1;
	try("ld_imm64 of a map fd, upper imm 1", &l);
	ld_map[1].imm = 0;
	ld_map[0].off = 1;
	try("ld_imm64 of a map fd, off 1", &l);
	ld_map[0].off = 0;
	try("ld_imm64 of a map fd", &l);
	tr_close(map);
	tr_close(fd);

	tr_say("# flags and expected_attach_type");
	l = (struct load){ .type = BPF_PROG_TYPE_SOCKET_FILTER, .insns = ret0, .cnt = N(ret0),
			   .license = "GPL" };
	l.flags = 1u << 20;
	try("prog_flags 1<<20", &l);
	l.flags = 0;
	l.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
	try("SOCKET_FILTER, expected INET4_CONNECT", &l);
	l.type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	l.insns = ret1;
	l.expected_attach_type = BPF_CGROUP_INET_INGRESS;
	try("CGROUP_SOCK_ADDR, expected INET_INGRESS", &l);
	l.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
	try("CGROUP_SOCK_ADDR, expected INET4_CONNECT", &l);
	l.type = BPF_PROG_TYPE_CGROUP_SOCK;
	l.expected_attach_type = 0;
	try("CGROUP_SOCK, expected 0 (INET_INGRESS)", &l);
	l.expected_attach_type = BPF_CGROUP_INET4_BIND;
	try("CGROUP_SOCK, expected INET4_BIND", &l);
	l.expected_attach_type = BPF_CGROUP_INET4_POST_BIND;
	try("CGROUP_SOCK, expected INET4_POST_BIND", &l);

	return tr_end();
}
