// SPDX-License-Identifier: MIT
/*
 * test_bpf_prog.c - programs through the bpf() ABI of a runtime: PROG_LOAD's checks and
 * errnos, tags (compared with tags the live 6.18 kernel gave for the same instructions),
 * OBJ_GET_INFO_BY_FD, helpers called from running programs, tail calls, PROG_TEST_RUN and
 * BTF_LOAD.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/bpf.h>

#include "bpf/bpf.h"
#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

#define I(c, d, s, o, i) ((struct bpf_insn){ (c), (d), (s), (o), (i) })
#define MOV64_IMM(d, i)	 I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV64_REG(d, s)	 I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define EXIT()		 I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define CALL(f)		 I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define LD_MAP(d, src, imm, next)                                                        \
	I(BPF_LD | BPF_IMM | BPF_DW, d, src, 0, imm), I(0, 0, 0, 0, next)

struct fixture {
	struct nsbpf_runtime *rt;
};

static long sys(struct fixture *f, int cmd, union bpf_attr *attr)
{
	return nsbpf_sys_bpf(f->rt, cmd, attr, sizeof(*attr));
}

static int setup(void **state)
{
	static struct fixture f;

	assert_int_equal(nsbpf_runtime_new(NULL, &f.rt), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nsbpf_runtime_free(f->rt);
	return 0;
}

static long load_ex(struct fixture *f, uint32_t type, const struct bpf_insn *insns, uint32_t n,
		    const char *name, uint32_t eat, char *log, uint32_t log_size, uint32_t level)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = n;
	a.license = (uintptr_t) "GPL";
	if (name)
		/* names of exactly 16 bytes (no NUL) are part of what is tested */
		memcpy(a.prog_name, name, strnlen(name, sizeof(a.prog_name)));
	a.expected_attach_type = eat;
	a.log_buf = (uintptr_t)log;
	a.log_size = log_size;
	a.log_level = level;
	return sys(f, BPF_PROG_LOAD, &a);
}

static long load(struct fixture *f, uint32_t type, const struct bpf_insn *insns, uint32_t n)
{
	return load_ex(f, type, insns, n, NULL, 0, NULL, 0, 0);
}

static int map_create(struct fixture *f, uint32_t type, uint32_t key, uint32_t value,
		      uint32_t max)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = key;
	a.value_size = value;
	a.max_entries = max;
	return (int)sys(f, BPF_MAP_CREATE, &a);
}

static void prog_info(struct fixture *f, int fd, struct bpf_prog_info *info, uint32_t len)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = len;
	a.info.info = (uintptr_t)info;
	assert_int_equal(sys(f, BPF_OBJ_GET_INFO_BY_FD, &a), 0);
	assert_int_equal(a.info.info_len, len < sizeof(*info) ? len : sizeof(*info));
}

static const struct bpf_insn ret2[] = { MOV64_IMM(0, 2), EXIT() };

static void test_load_errors(void **state)
{
	struct fixture *f = *state;
	const struct bpf_insn bad_helper[] = { CALL(9999), EXIT() };
	union bpf_attr a;
	char log[256];

	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, "he-llo", 0, NULL, 0, 0), -EINVAL);
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, "abcdefghijklmnop", 0, NULL, 0, 0),
			 -EINVAL);
	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, ret2, 0), -E2BIG);
	assert_int_equal(load(f, BPF_PROG_TYPE_KPROBE, ret2, 2), -EINVAL);
	assert_int_equal(load(f, 999, ret2, 2), -EINVAL);
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_CGROUP_SOCK, ret2, 2, NULL, BPF_CGROUP_INET4_BIND,
				 NULL, 0, 0),
			 -EINVAL);
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_SK_LOOKUP, ret2, 2, NULL, 0, NULL, 0, 0), -EINVAL);
	assert_true(load_ex(f, BPF_PROG_TYPE_SK_LOOKUP, ret2, 2, NULL, BPF_SK_LOOKUP, NULL, 0, 0) >=
		    0);
	/* the XDP type takes any expected_attach_type (measured) */
	assert_true(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 99, NULL, 0, 0) >= 0);

	/* license: a bad pointer faults */
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)ret2;
	a.insn_cnt = 2;
	a.license = 8;
	assert_int_equal(sys(f, BPF_PROG_LOAD, &a), -EFAULT);
	a.license = 0;
	assert_int_equal(sys(f, BPF_PROG_LOAD, &a), -EFAULT);
	a.license = (uintptr_t) "GPL";
	a.prog_flags = 1u << 20;
	assert_int_equal(sys(f, BPF_PROG_LOAD, &a), -EINVAL);

	/* log attributes */
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, log, 100, 0), -EINVAL);
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, NULL, 100, 1), -EINVAL);
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, log, 0, 1), -EINVAL);
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, NULL, 0, 16), -EINVAL);
	assert_true(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, NULL, 0, 1) >= 0);
	memset(log, 0, sizeof(log));
	assert_true(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, log, sizeof(log), 1) >= 0);
	assert_string_equal(log, "processed 2 insns (limit 1000000) max_states_per_insn 0 "
				 "total_states 0 peak_states 0 mark_read 0\n");
	/* a log too small fails the load; the rotating log keeps its end */
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, NULL, 0, log, 10, 1), -ENOSPC);
	assert_string_equal(log, "k_read 0\n");

	/* unknown helper: -EINVAL, and the reason in the log */
	memset(log, 0, sizeof(log));
	assert_int_equal(load_ex(f, BPF_PROG_TYPE_XDP, bad_helper, 2, NULL, 0, log, sizeof(log), 1),
			 -EINVAL);
	assert_non_null(strstr(log, "9999"));
	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, bad_helper, 2), -EINVAL);
}

static void test_load_maps(void **state)
{
	struct fixture *f = *state;
	int m1 = map_create(f, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	int m2 = map_create(f, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	struct bpf_insn insns[] = { LD_MAP(1, BPF_PSEUDO_MAP_FD, m1, 0), MOV64_IMM(0, 2), EXIT() };
	union bpf_attr a;
	int fds[2] = { m1, m2 };

	assert_true(m1 >= 0 && m2 >= 0);
	insns[0].imm = 999;
	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, insns, 4), -EBADF);
	insns[0].imm = (int)load(f, BPF_PROG_TYPE_XDP, ret2, 2);
	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, insns, 4), -EINVAL);
	insns[0].imm = m1;
	insns[1].imm = 5;
	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, insns, 4), -EINVAL);
	insns[0].src_reg = BPF_PSEUDO_MAP_VALUE;
	insns[1].imm = 8; /* past the value */
	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, insns, 4), -EINVAL);

	insns[0].src_reg = BPF_PSEUDO_MAP_IDX;
	insns[0].imm = 0;
	insns[1].imm = 0;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 4;
	a.license = (uintptr_t) "GPL";
	assert_int_equal(sys(f, BPF_PROG_LOAD, &a), -EPROTO);
	a.fd_array = (uintptr_t)fds;
	assert_true(sys(f, BPF_PROG_LOAD, &a) >= 0);
}

static void tag_of(struct fixture *f, int fd, char out[17])
{
	struct bpf_prog_info info;

	memset(&info, 0, sizeof(info));
	prog_info(f, fd, &info, sizeof(info));
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", info.tag[i]);
}

static void test_tag(void **state)
{
	struct fixture *f = *state;
	int m1 = map_create(f, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	int m2 = map_create(f, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	struct bpf_insn mp[] = { LD_MAP(1, BPF_PSEUDO_MAP_FD, m1, 0), MOV64_IMM(0, 2), EXIT() };
	struct bpf_insn mv[] = { LD_MAP(1, BPF_PSEUDO_MAP_VALUE, m1, 4), MOV64_IMM(0, 2), EXIT() };
	char t1[17], t2[17];
	int fd;

	/* tags of the same instructions on Linux 6.18 */
	tag_of(f, (int)load(f, BPF_PROG_TYPE_XDP, ret2, 2), t1);
	assert_string_equal(t1, "614b434cd8324ecc");
	tag_of(f, (int)load(f, BPF_PROG_TYPE_SOCKET_FILTER, ret2, 2), t2);
	assert_string_equal(t1, t2);

	tag_of(f, (int)load(f, BPF_PROG_TYPE_XDP, mp, 4), t1);
	mp[0].imm = m2;
	tag_of(f, (int)load(f, BPF_PROG_TYPE_XDP, mp, 4), t2);
	assert_string_equal(t1, "2d00ef086dd753ef");
	assert_string_equal(t2, t1);

	tag_of(f, (int)load(f, BPF_PROG_TYPE_XDP, mv, 4), t1);
	mv[1].imm = 0;
	tag_of(f, (int)load(f, BPF_PROG_TYPE_XDP, mv, 4), t2);
	assert_string_equal(t1, "df4e22ab1d773e8a");
	assert_string_equal(t2, t1);

	/* BPF_PSEUDO_MAP_IDX keeps its index in the digest */
	{
		struct bpf_insn mi[] = { LD_MAP(1, BPF_PSEUDO_MAP_IDX, 1, 0), MOV64_IMM(0, 2), EXIT() };
		int fds[2] = { m1, m2 };
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_XDP;
		a.insns = (uintptr_t)mi;
		a.insn_cnt = 4;
		a.license = (uintptr_t) "GPL";
		a.fd_array = (uintptr_t)fds;
		tag_of(f, (int)sys(f, BPF_PROG_LOAD, &a), t1);
		assert_string_equal(t1, "37c07f9f34f96a66");
	}

	/* fdinfo carries the same tag */
	{
		char buf[512];

		fd = (int)load_ex(f, BPF_PROG_TYPE_XDP, ret2, 2, "hello", 0, NULL, 0, 0);
		assert_true(nsbpf_fd_show_fdinfo(f->rt, fd, buf, sizeof(buf)) > 0);
		assert_non_null(strstr(buf, "prog_type:\t6\nprog_jited:\t0\n"
					    "prog_tag:\t614b434cd8324ecc\nmemlock:\t4096\n"));
		assert_non_null(strstr(buf, "run_cnt:\t0\nrecursion_misses:\t0\n"
					    "verified_insns:\t2\n"));
	}
}

static void test_info(void **state)
{
	struct fixture *f = *state;
	int m1 = map_create(f, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	struct bpf_insn mv[] = { LD_MAP(1, BPF_PSEUDO_MAP_VALUE, m1, 4), MOV64_IMM(0, 2), EXIT() };
	struct bpf_map_info minfo;
	struct bpf_prog_info info;
	struct bpf_insn x[8];
	uint32_t ids[4] = { 0 };
	uint8_t big[sizeof(info) + 8];
	union bpf_attr a;
	int fd;

	fd = (int)load_ex(f, BPF_PROG_TYPE_XDP, mv, 4, "m", 0, NULL, 0, 0);
	assert_true(fd >= 0);
	memset(&minfo, 0, sizeof(minfo));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)m1;
	a.info.info_len = sizeof(minfo);
	a.info.info = (uintptr_t)&minfo;
	assert_int_equal(sys(f, BPF_OBJ_GET_INFO_BY_FD, &a), 0);

	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = sizeof(x);
	info.xlated_prog_insns = (uintptr_t)x;
	info.nr_map_ids = 4;
	info.map_ids = (uintptr_t)ids;
	prog_info(f, fd, &info, sizeof(info));
	assert_int_equal(info.type, BPF_PROG_TYPE_XDP);
	assert_true(info.id > 0);
	assert_string_equal(info.name, "m");
	assert_int_equal(info.gpl_compatible, 1);
	assert_int_equal(info.xlated_prog_len, 32);
	assert_int_equal(info.nr_map_ids, 1);
	assert_int_equal(ids[0], minfo.id);
	assert_int_equal(info.jited_prog_len, 0);
	assert_int_equal(info.verified_insns, 3);
	assert_int_equal(info.func_info_rec_size, 8);
	assert_int_equal(info.line_info_rec_size, 16);
	assert_int_equal(info.nr_prog_tags, 1);
	assert_true(info.load_time > 0);
	/* the xlated dump names the map by id, with the offset */
	assert_int_equal(x[0].code, BPF_LD | BPF_IMM | BPF_DW);
	assert_int_equal(x[0].src_reg, BPF_PSEUDO_MAP_VALUE);
	assert_int_equal(x[0].imm, (int)minfo.id);
	assert_int_equal(x[1].imm, 4);
	assert_int_equal(x[2].code, BPF_ALU64 | BPF_MOV | BPF_K);

	/* truncation: 8 bytes are type and id only; the rest echoes the caller */
	memset(&info, 0xab, sizeof(info));
	prog_info(f, fd, &info, 8);
	assert_int_equal(info.type, BPF_PROG_TYPE_XDP);
	assert_int_equal(info.tag[0], 0xab);

	/* a non-zero byte past our struct: -E2BIG */
	memset(big, 0, sizeof(big));
	big[sizeof(info) + 3] = 1;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(big);
	a.info.info = (uintptr_t)big;
	assert_int_equal(sys(f, BPF_OBJ_GET_INFO_BY_FD, &a), -E2BIG);
}

static long test_run_xdp(struct fixture *f, int fd, void *pkt, uint32_t len, void *out,
			 uint32_t out_len, union bpf_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->test.prog_fd = (uint32_t)fd;
	a->test.data_in = (uintptr_t)pkt;
	a->test.data_size_in = len;
	a->test.data_out = (uintptr_t)out;
	a->test.data_size_out = out_len;
	return sys(f, BPF_PROG_TEST_RUN, a);
}

static void test_xdp_test_run(void **state)
{
	struct fixture *f = *state;
	/* if data + 1 <= data_end: data[0] = 0x42, XDP_DROP; else XDP_PASS */
	const struct bpf_insn insns[] = {
		MOV64_IMM(0, XDP_PASS),
		I(BPF_LDX | BPF_MEM | BPF_W, 2, 1, offsetof(struct xdp_md, data), 0),
		I(BPF_LDX | BPF_MEM | BPF_W, 3, 1, offsetof(struct xdp_md, data_end), 0),
		MOV64_REG(4, 2),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, 1),
		I(BPF_JMP | BPF_JGT | BPF_X, 4, 3, 2, 0),
		I(BPF_ST | BPF_MEM | BPF_B, 2, 0, 0, 0x42),
		MOV64_IMM(0, XDP_DROP),
		EXIT(),
	};
	const struct bpf_insn bad_ctx[] = {
		I(BPF_LDX | BPF_MEM | BPF_H, 0, 1, 0, 0),
		EXIT(),
	};
	uint8_t pkt[64] = { 1, 2, 3 }, out[128];
	struct xdp_md md;
	union bpf_attr a;
	int fd;

	assert_int_equal(load(f, BPF_PROG_TYPE_XDP, bad_ctx, 2), -EACCES);
	fd = (int)load(f, BPF_PROG_TYPE_XDP, insns, sizeof(insns) / sizeof(insns[0]));
	assert_true(fd >= 0);

	assert_int_equal(test_run_xdp(f, fd, pkt, 13, out, sizeof(out), &a), -EINVAL);
	assert_int_equal(test_run_xdp(f, fd, pkt, sizeof(pkt), out, sizeof(out), &a), 0);
	assert_int_equal(a.test.retval, XDP_DROP);
	assert_int_equal(a.test.data_size_out, 64);
	assert_int_equal(out[0], 0x42);
	assert_int_equal(out[1], 2);

	assert_int_equal(test_run_xdp(f, fd, pkt, sizeof(pkt), out, 10, &a), -ENOSPC);
	assert_int_equal(a.test.data_size_out, 64);

	/* ctx_out alone: a zeroed context whose data_end is not the size */
	test_run_xdp(f, fd, pkt, sizeof(pkt), out, sizeof(out), &a);
	memset(&md, 0, sizeof(md));
	a.test.ctx_out = (uintptr_t)&md;
	a.test.ctx_size_out = sizeof(md);
	assert_int_equal(sys(f, BPF_PROG_TEST_RUN, &a), -EINVAL);
	/* with ctx_in: the packet offsets come back */
	md.data_end = sizeof(pkt);
	a.test.ctx_in = (uintptr_t)&md;
	a.test.ctx_size_in = sizeof(md);
	a.test.ctx_out = (uintptr_t)&md;
	a.test.ctx_size_out = sizeof(md);
	a.test.repeat = 10;
	assert_int_equal(sys(f, BPF_PROG_TEST_RUN, &a), 0);
	assert_int_equal(md.data, 0);
	assert_int_equal(md.data_end, 64);
	assert_int_equal(a.test.ctx_size_out, sizeof(md));
}

static void test_skb_test_run(void **state)
{
	struct fixture *f = *state;
	/* r0 = skb->len + first byte after the Ethernet header (LD_ABS) */
	const struct bpf_insn insns[] = {
		MOV64_REG(6, 1),
		I(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 0),
		I(BPF_LDX | BPF_MEM | BPF_W, 2, 6, offsetof(struct __sk_buff, len), 0),
		I(BPF_ALU64 | BPF_ADD | BPF_X, 0, 2, 0, 0),
		EXIT(),
	};
	uint8_t pkt[64], out[128];
	union bpf_attr a;
	int fd;

	for (int i = 0; i < 64; i++)
		pkt[i] = (uint8_t)i;
	fd = (int)load(f, BPF_PROG_TYPE_SOCKET_FILTER, insns, 5);
	assert_true(fd >= 0);
	assert_int_equal(test_run_xdp(f, fd, pkt, sizeof(pkt), out, sizeof(out), &a), 0);
	assert_int_equal(a.test.retval, 50 + 14);
	assert_int_equal(a.test.data_size_out, 64);
	/* the Ethernet header comes back zeroed (measured) */
	assert_int_equal(out[0], 0);
	assert_int_equal(out[13], 0);
	assert_int_equal(out[14], 14);
}

static void test_helpers(void **state)
{
	struct fixture *f = *state;
	int m = map_create(f, BPF_MAP_TYPE_HASH, 4, 8, 4);
	/*
	 * key = 7 on the stack; value = 0x1234; update(m, &key, &value, 0);
	 * p = lookup(m, &key); if (p) { trace_printk("v=%d\n", *p); return XDP_DROP; } XDP_PASS
	 */
	struct bpf_insn insns[] = {
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 7),
		I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 0x1234),
		LD_MAP(1, BPF_PSEUDO_MAP_FD, m, 0),
		MOV64_REG(2, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
		MOV64_REG(3, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -16),
		MOV64_IMM(4, 0),
		CALL(BPF_FUNC_map_update_elem),
		LD_MAP(1, BPF_PSEUDO_MAP_FD, m, 0),
		MOV64_REG(2, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
		CALL(BPF_FUNC_map_lookup_elem),
		MOV64_IMM(6, XDP_PASS),
		I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 8, 0),
		I(BPF_LDX | BPF_MEM | BPF_DW, 3, 0, 0, 0),
		/* "v=%d\n" on the stack */
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -24, 0x64253d76),
		I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -20, 0x0a),
		MOV64_REG(1, 10),
		I(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -24),
		MOV64_IMM(2, 6),
		CALL(BPF_FUNC_trace_printk),
		MOV64_IMM(6, XDP_DROP),
		MOV64_REG(0, 6),
		EXIT(),
	};
	uint8_t pkt[64] = { 0 }, out[64];
	struct bpf_state *st;
	union bpf_attr a;
	uint32_t key = 7;
	uint64_t value = 0;
	int fd;

	fd = (int)load(f, BPF_PROG_TYPE_XDP, insns, sizeof(insns) / sizeof(insns[0]));
	assert_true(fd >= 0);
	assert_int_equal(test_run_xdp(f, fd, pkt, sizeof(pkt), out, sizeof(out), &a), 0);
	assert_int_equal(a.test.retval, XDP_DROP);

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)m;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&value;
	assert_int_equal(sys(f, BPF_MAP_LOOKUP_ELEM, &a), 0);
	assert_int_equal(value, 0x1234);

	st = bpf_state_get(f->rt);
	pthread_mutex_lock(&st->trace_lock);
	assert_non_null(st->trace_log);
	assert_non_null(strstr(st->trace_log, "bpf_trace_printk: v=4660\n"));
	pthread_mutex_unlock(&st->trace_lock);
}

static void test_tail_call(void **state)
{
	struct fixture *f = *state;
	int pa = map_create(f, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4);
	const struct bpf_insn target[] = { MOV64_IMM(0, XDP_TX), EXIT() };
	/* tail_call(ctx, pa, 2); return XDP_ABORTED (when the call falls through) */
	struct bpf_insn entry[] = {
		LD_MAP(2, BPF_PSEUDO_MAP_FD, pa, 0),
		MOV64_IMM(3, 2),
		CALL(BPF_FUNC_tail_call),
		MOV64_IMM(0, XDP_ABORTED),
		EXIT(),
	};
	uint8_t pkt[64] = { 0 }, out[64];
	union bpf_attr a;
	uint32_t key = 2;
	int tfd, efd;

	tfd = (int)load(f, BPF_PROG_TYPE_XDP, target, 2);
	efd = (int)load(f, BPF_PROG_TYPE_XDP, entry, 6);
	assert_true(tfd >= 0 && efd >= 0);

	assert_int_equal(test_run_xdp(f, efd, pkt, sizeof(pkt), out, sizeof(out), &a), 0);
	assert_int_equal(a.test.retval, XDP_ABORTED);

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)pa;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&tfd;
	assert_int_equal(sys(f, BPF_MAP_UPDATE_ELEM, &a), 0);
	assert_int_equal(test_run_xdp(f, efd, pkt, sizeof(pkt), out, sizeof(out), &a), 0);
	assert_int_equal(a.test.retval, XDP_TX);

	/* the array now belongs to XDP programs */
	assert_int_equal(load(f, BPF_PROG_TYPE_SOCKET_FILTER, entry, 6), -EINVAL);
}

static void test_btf(void **state)
{
	struct fixture *f = *state;
	/* one "int" type: header, type section (16 bytes), string section "\0int\0" */
	static const uint8_t blob[] = {
		0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 32, 0, 0, 0, 0, 'i', 'n', 't', 0,
	};
	uint8_t garbage[40], copy[64];
	struct bpf_btf_info info;
	char name[8] = "x";
	union bpf_attr a;
	int fd;

	memset(garbage, 0x5a, sizeof(garbage));
	memset(&a, 0, sizeof(a));
	a.btf = (uintptr_t)garbage;
	a.btf_size = sizeof(garbage);
	assert_int_equal(sys(f, BPF_BTF_LOAD, &a), -EINVAL);

	a.btf = (uintptr_t)blob;
	a.btf_size = sizeof(blob);
	fd = (int)sys(f, BPF_BTF_LOAD, &a);
	assert_true(fd >= 0);

	memset(&info, 0, sizeof(info));
	info.btf = (uintptr_t)copy;
	info.btf_size = sizeof(copy);
	info.name = (uintptr_t)name;
	info.name_len = sizeof(name);
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	assert_int_equal(sys(f, BPF_OBJ_GET_INFO_BY_FD, &a), 0);
	assert_true(info.id > 0);
	assert_int_equal(info.btf_size, sizeof(blob));
	assert_memory_equal(copy, blob, sizeof(blob));
	assert_int_equal(info.name_len, 0);
	assert_string_equal(name, "");
	assert_int_equal(info.kernel_btf, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xdp_test_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skb_test_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_btf, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
