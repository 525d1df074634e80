// SPDX-License-Identifier: MIT
/*
 * prog.c - BPF programs: PROG_LOAD, their lifetime and ids, the tag, OBJ_GET_INFO_BY_FD and
 * fdinfo, and running them (kernel/bpf/syscall.c's bpf_prog_load and friends, with the parts
 * of the verifier that show from outside).
 *
 * Loading follows bpf_prog_load's order of checks; where the kernel's verifier proves a
 * program safe, nsbpf relies on the VM instead (nsbpf/vm.h): every memory access is checked
 * at run time against the regions of the run. What the verifier does besides proving safety
 * is done here: map ld_imm64 are resolved and the maps held (resolve_pseudo_ldimm64), and
 * loads of 32-bit packet pointers from the context are rewritten into loads of the real
 * 64-bit pointers (convert_ctx_accesses; see struct bpf_xdp_ctx in prog.h). Helpers come from
 * helpers.c, PROG_TEST_RUN from test_run.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rcu.h"
#include "prog.h"

#ifndef BPF_LOG_FIXED
#define BPF_LOG_FIXED 8
#endif
#define BPF_LOG_MASK 15u /* BPF_LOG_LEVEL1 | LEVEL2 | STATS | FIXED */

#define MAX_USED_MAPS	64	    /* the verifier's limit of maps per program */
#define BPF_MAX_VAR_OFF (1 << 29) /* direct value offsets must be below it */
#define PAGE_SIZE	4096u

/* prog_flags bpf_prog_load accepts (6.18): STRICT/ANY_ALIGNMENT ... TOKEN_FD. */
#define BPF_F_XDP_DEV_BOUND_ONLY_  (1u << 6)
#define BPF_F_TEST_REG_INVARIANTS_ (1u << 7)
#define BPF_F_TOKEN_FD_		   (1u << 16)
#define BPF_PROG_LOAD_FLAGS                                                              \
	(BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT | BPF_F_TEST_STATE_FREQ |          \
	 BPF_F_SLEEPABLE | BPF_F_TEST_RND_HI32 | BPF_F_XDP_HAS_FRAGS |                    \
	 BPF_F_XDP_DEV_BOUND_ONLY_ | BPF_F_TEST_REG_INVARIANTS_ | BPF_F_TOKEN_FD_)

/* ---- Program types ------------------------------------------------------------------ */

static const struct bpf_ctx_ptr_field xdp_ptr_fields[] = {
	{ offsetof(struct xdp_md, data), offsetof(struct bpf_xdp_ctx, data) },
	{ offsetof(struct xdp_md, data_end), offsetof(struct bpf_xdp_ctx, data_end) },
	{ offsetof(struct xdp_md, data_meta), offsetof(struct bpf_xdp_ctx, data_meta) },
};

static const struct bpf_ctx_desc xdp_ctx = {
	.size = sizeof(struct xdp_md),
	.alloc = sizeof(struct bpf_xdp_ctx),
	.ptr_fields = xdp_ptr_fields,
	.nr_ptr_fields = 3,
	.read_only = true,
	.u32_only = true,
};

static const struct bpf_ctx_ptr_field skb_ptr_fields[] = {
	{ offsetof(struct __sk_buff, data), offsetof(struct bpf_skb_ctx, data) },
	{ offsetof(struct __sk_buff, data_end), offsetof(struct bpf_skb_ctx, data_end) },
	{ offsetof(struct __sk_buff, data_meta), offsetof(struct bpf_skb_ctx, data_meta) },
};

static const struct bpf_ctx_desc skb_ctx = {
	.size = sizeof(struct __sk_buff),
	.alloc = sizeof(struct bpf_skb_ctx),
	.ptr_fields = skb_ptr_fields,
	.nr_ptr_fields = 3,
};

/* Read-only, and only data and data_end are 32-bit pointers (flow_keys is a real one). */
static const struct bpf_ctx_desc flow_dissector_ctx = {
	.size = sizeof(struct __sk_buff),
	.alloc = sizeof(struct bpf_flow_dissector_ctx),
	.ptr_fields = skb_ptr_fields,
	.nr_ptr_fields = 2,
	.read_only = true,
};

/* Contexts without 32-bit pointers: only bounds and alignment are checked. */
#define PLAIN_CTX(name, type)                                                            \
	static const struct bpf_ctx_desc name = { .size = sizeof(type), .alloc = sizeof(type) }
PLAIN_CTX(sock_ctx, struct bpf_sock);
PLAIN_CTX(sock_addr_ctx, struct bpf_sock_addr);
PLAIN_CTX(sock_ops_ctx, struct bpf_sock_ops);
PLAIN_CTX(cgroup_dev_ctx, struct bpf_cgroup_dev_ctx);
PLAIN_CTX(sysctl_ctx, struct bpf_sysctl);
PLAIN_CTX(sockopt_ctx, struct bpf_sockopt);
PLAIN_CTX(sk_lookup_ctx, struct bpf_sk_lookup);
#undef PLAIN_CTX

#define AT(t) (1ull << (t))
/* Attach types newer than the installed uapi header (6.7's unix socket hooks). */
#define BPF_CGROUP_UNIX_CONNECT_	49
#define BPF_CGROUP_UNIX_SENDMSG_	50
#define BPF_CGROUP_UNIX_RECVMSG_	51
#define BPF_CGROUP_UNIX_GETPEERNAME_ 52
#define BPF_CGROUP_UNIX_GETSOCKNAME_ 53

/* Every program type nsbpf loads; anything else is -EINVAL (the kernel's find_prog_type). */
static const struct bpf_prog_type_desc prog_types[] = {
	{ BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter", 0, 0, &skb_ctx, bpf_prog_test_run_skb },
	{ BPF_PROG_TYPE_XDP, "xdp", 0, 0, &xdp_ctx, bpf_prog_test_run_xdp },
	{ BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb",
	  AT(BPF_CGROUP_INET_INGRESS) | AT(BPF_CGROUP_INET_EGRESS), 0, &skb_ctx,
	  bpf_prog_test_run_skb },
	{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup_sock",
	  AT(BPF_CGROUP_INET_SOCK_CREATE) | AT(BPF_CGROUP_INET_SOCK_RELEASE) |
		  AT(BPF_CGROUP_INET4_POST_BIND) | AT(BPF_CGROUP_INET6_POST_BIND),
	  BPF_CGROUP_INET_SOCK_CREATE, &sock_ctx, NULL },
	{ BPF_PROG_TYPE_SOCK_OPS, "sock_ops", 0, 0, &sock_ops_ctx, NULL },
	{ BPF_PROG_TYPE_CGROUP_DEVICE, "cgroup_device", 0, 0, &cgroup_dev_ctx, NULL },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup_sock_addr",
	  AT(BPF_CGROUP_INET4_BIND) | AT(BPF_CGROUP_INET6_BIND) | AT(BPF_CGROUP_INET4_CONNECT) |
		  AT(BPF_CGROUP_INET6_CONNECT) | AT(BPF_CGROUP_UNIX_CONNECT_) |
		  AT(BPF_CGROUP_INET4_GETPEERNAME) | AT(BPF_CGROUP_INET6_GETPEERNAME) |
		  AT(BPF_CGROUP_UNIX_GETPEERNAME_) | AT(BPF_CGROUP_INET4_GETSOCKNAME) |
		  AT(BPF_CGROUP_INET6_GETSOCKNAME) | AT(BPF_CGROUP_UNIX_GETSOCKNAME_) |
		  AT(BPF_CGROUP_UDP4_SENDMSG) | AT(BPF_CGROUP_UDP6_SENDMSG) |
		  AT(BPF_CGROUP_UNIX_SENDMSG_) | AT(BPF_CGROUP_UDP4_RECVMSG) |
		  AT(BPF_CGROUP_UDP6_RECVMSG) | AT(BPF_CGROUP_UNIX_RECVMSG_),
	  0, &sock_addr_ctx, NULL },
	{ BPF_PROG_TYPE_FLOW_DISSECTOR, "flow_dissector", 0, 0, &flow_dissector_ctx,
	  bpf_prog_test_run_flow_dissector },
	{ BPF_PROG_TYPE_CGROUP_SYSCTL, "cgroup_sysctl", 0, 0, &sysctl_ctx, NULL },
	{ BPF_PROG_TYPE_CGROUP_SOCKOPT, "cgroup_sockopt",
	  AT(BPF_CGROUP_SETSOCKOPT) | AT(BPF_CGROUP_GETSOCKOPT), 0, &sockopt_ctx, NULL },
	{ BPF_PROG_TYPE_SK_LOOKUP, "sk_lookup", AT(BPF_SK_LOOKUP), 0, &sk_lookup_ctx,
	  bpf_prog_test_run_sk_lookup },
};
#undef AT

const struct bpf_prog_type_desc *bpf_prog_type_desc(uint32_t type)
{
	for (size_t i = 0; i < sizeof(prog_types) / sizeof(prog_types[0]); i++)
		if (prog_types[i].type == type)
			return &prog_types[i];
	return NULL;
}

/* bpf_prog_load_check_attach, for the types of the table (no BTF attach targets). */
static int bpf_prog_load_check_attach(const struct bpf_prog_type_desc *desc,
				      const union bpf_attr *attr)
{
	if (attr->attach_btf_id || attr->attach_prog_fd)
		return -EINVAL;
	if (!desc || !desc->attach_types)
		return 0;
	if (attr->expected_attach_type >= 64 ||
	    !(desc->attach_types & (1ull << attr->expected_attach_type)))
		return -EINVAL;
	return 0;
}

/* ---- User memory and the log ---------------------------------------------------------- */

bool bpf_log_attr_valid(uint32_t level, uint64_t ubuf, uint32_t size)
{
	/* buffer and size come together; a buffer needs a level; no unknown level bits */
	if (!!ubuf != !!size)
		return false;
	if (ubuf && !level)
		return false;
	if (level & ~BPF_LOG_MASK)
		return false;
	return size <= UINT32_MAX >> 2;
}

int bpf_log_write(uint32_t level, uint64_t ubuf, uint32_t size, const char *text)
{
	size_t len = strlen(text);
	const char *from = text;
	size_t n = len;

	if (!ubuf || !size)
		return 0;
	if (len + 1 > size) {
		/* the rotating log keeps the end, BPF_LOG_FIXED the beginning */
		n = size - 1;
		if (!(level & BPF_LOG_FIXED))
			from = text + len - n;
	}
	if (copy_to_user(u64_to_user_ptr(ubuf), from, n) ||
	    copy_to_user(u64_to_user_ptr(ubuf + n), "", 1))
		return -EFAULT;
	return n < len ? -ENOSPC : 0;
}

/* The verifier log of one load: lines accumulate here and go to the user at the end. */
struct load_log {
	char buf[1024];
	size_t len;
};

static void __attribute__((format(printf, 2, 3))) verbose(struct load_log *log, const char *fmt,
							  ...)
{
	va_list ap;
	int n;

	if (log->len >= sizeof(log->buf))
		return;
	va_start(ap, fmt);
	n = vsnprintf(log->buf + log->len, sizeof(log->buf) - log->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		log->len = log->len + n < sizeof(log->buf) ? log->len + n : sizeof(log->buf) - 1;
}

/* ---- License and name ----------------------------------------------------------------- */

/* include/linux/license.h's license_is_gpl_compatible, written once as a list. */
static const char *const gpl_compatible_licenses[] = {
	"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
};

static bool license_is_gpl_compatible(const char *license)
{
	for (size_t i = 0; i < sizeof(gpl_compatible_licenses) / sizeof(char *); i++)
		if (!strcmp(license, gpl_compatible_licenses[i]))
			return true;
	return false;
}

/* The license string: at most size - 1 bytes, always terminated. 0 or -EFAULT. */
static int copy_license(char *dst, uint64_t usrc, size_t size)
{
	if (strncpy_from_user(dst, u64_to_user_ptr(usrc), size - 1) < 0)
		return -EFAULT;
	dst[size - 1] = 0;
	return 0;
}

/* bpf_obj_name_cpy: [A-Za-z0-9_.]*, NUL-terminated within the field. */
static int bpf_obj_name_cpy(char *dst, const char *src, size_t size)
{
	size_t i;

	memset(dst, 0, size);
	for (i = 0; i < size && src[i]; i++) {
		char c = src[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return -EINVAL;
		dst[i] = c;
	}
	return i == size ? -EINVAL : 0;
}

/* ---- Maps of ld_imm64 (resolve_pseudo_ldimm64) ---------------------------------------- */

#define LD_IMM64 (BPF_LD | BPF_IMM | BPF_DW)

static bool is_map_ldimm64(const struct nsbpf_insn *insn)
{
	return insn->code == LD_IMM64 &&
	       (insn->src_reg == BPF_PSEUDO_MAP_FD || insn->src_reg == BPF_PSEUDO_MAP_VALUE ||
		insn->src_reg == BPF_PSEUDO_MAP_IDX ||
		insn->src_reg == BPF_PSEUDO_MAP_IDX_VALUE);
}

static bool is_value_ldimm64(const struct nsbpf_insn *insn)
{
	return insn->src_reg == BPF_PSEUDO_MAP_VALUE || insn->src_reg == BPF_PSEUDO_MAP_IDX_VALUE;
}

/* __bpf_map_get through the fd table: a new reference, -EBADF or -EINVAL. */
static int bpf_map_get_fd(struct bpf_state *st, int fd, struct bpf_map **map)
{
	struct bpf_file *file = bpf_fd_get(st, fd);
	int err = 0;

	if (!file)
		return -EBADF;
	if (file->kind == BPF_FILE_MAP) {
		*map = file->obj;
		bpf_map_inc(*map);
	} else {
		err = -EINVAL;
	}
	bpf_file_put(file);
	return err;
}

/* add_used_map_from_fd: the index of the map in prog->used_maps, or a negative errno. */
static int add_used_map(struct bpf_prog *prog, struct bpf_map *map, struct load_log *log)
{
	for (uint32_t i = 0; i < prog->used_map_cnt; i++) {
		if (prog->used_maps[i] == map) {
			bpf_map_put(map);
			return (int)i;
		}
	}
	if (prog->used_map_cnt >= MAX_USED_MAPS) {
		verbose(log, "too many different maps\n");
		bpf_map_put(map);
		return -E2BIG;
	}
	if (map->map_type == BPF_MAP_TYPE_PROG_ARRAY &&
	    !bpf_map_prog_compatible(map, prog->type)) {
		bpf_map_put(map);
		return -EINVAL;
	}
	/* allocated on the first map: most programs of a busy control plane use none */
	if (!prog->used_maps) {
		prog->used_maps = calloc(MAX_USED_MAPS, sizeof(*prog->used_maps));
		if (!prog->used_maps) {
			bpf_map_put(map);
			return -ENOMEM;
		}
	}
	prog->used_maps[prog->used_map_cnt] = map;
	return (int)prog->used_map_cnt++;
}

static int add_value_region(struct bpf_prog *prog, const struct bpf_map *map, uint64_t addr)
{
	struct bpf_prog_value_region *r;
	uint64_t base = addr;
	uint32_t off;

	/* the whole value the address points into, once per map */
	if (map->ops->map_direct_value_addr(map, &base, 0))
		return 0;
	for (uint32_t i = 0; i < prog->nr_value_regions; i++)
		if (prog->value_regions[i].start == (const void *)(uintptr_t)base)
			return 0;
	off = prog->nr_value_regions;
	r = realloc(prog->value_regions, (off + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	prog->value_regions = r;
	r[off].start = (const void *)(uintptr_t)base;
	r[off].len = map->value_size;
	r[off].flags = (map->map_flags & BPF_F_RDONLY_PROG) ? NSBPF_VM_READ : NSBPF_VM_RW;
	prog->nr_value_regions = off + 1;
	return 0;
}

/*
 * Resolves every map ld_imm64 of @insns: holds the maps, writes the values the program will
 * see into @imm (by instruction index) and rewrites @xlated's copy to (map id, offset) as the
 * kernel's bpf_insn_prepare_dump shows them. Errnos and their order as the kernel's.
 */
static int resolve_pseudo_ldimm64(struct bpf_prog *prog, const union bpf_attr *attr,
				  const struct nsbpf_insn *insns, uint64_t *imm,
				  struct load_log *log)
{
	struct bpf_state *st = prog->st;

	for (uint32_t i = 0; i < prog->len; i++) {
		const struct nsbpf_insn *insn = &insns[i];
		struct bpf_map *map;
		uint64_t addr;
		uint32_t fd;
		int idx, err;

		if (insn->code != LD_IMM64)
			continue;
		if (i == prog->len - 1 || insn[1].code || insn[1].dst_reg || insn[1].src_reg ||
		    insn[1].off) {
			verbose(log, "invalid bpf_ld_imm64 insn\n");
			return -EINVAL;
		}
		if (!is_map_ldimm64(insn)) {
			i++;
			continue;
		}
		if (!is_value_ldimm64(insn) && insn[1].imm) {
			verbose(log, "unrecognized bpf_ld_imm64 insn\n");
			return -EINVAL;
		}
		if (insn->src_reg == BPF_PSEUDO_MAP_IDX || insn->src_reg == BPF_PSEUDO_MAP_IDX_VALUE) {
			if (!attr->fd_array) {
				verbose(log, "fd_idx without fd_array is invalid\n");
				return -EPROTO;
			}
			/* user addresses add up as integers: fd_array may be NULL */
			if (copy_from_user(&fd,
					   u64_to_user_ptr(attr->fd_array +
							   (uint64_t)(uint32_t)insn->imm *
								   sizeof(uint32_t)),
					   sizeof(fd)))
				return -EFAULT;
		} else {
			fd = (uint32_t)insn->imm;
		}

		err = bpf_map_get_fd(st, (int)fd, &map);
		if (err) {
			verbose(log, "fd %d is not pointing to valid bpf_map\n", (int)fd);
			return err;
		}
		idx = add_used_map(prog, map, log);
		if (idx < 0)
			return idx;
		map = prog->used_maps[idx];

		if (is_value_ldimm64(insn)) {
			uint32_t off = (uint32_t)insn[1].imm;

			if (off >= BPF_MAX_VAR_OFF) {
				verbose(log, "direct value offset of %u is not allowed\n", off);
				return -EINVAL;
			}
			if (!map->ops->map_direct_value_addr) {
				verbose(log, "no direct value access support for this map type\n");
				return -EINVAL;
			}
			err = map->ops->map_direct_value_addr(map, &addr, off);
			if (err) {
				verbose(log,
					"invalid access to map value pointer, value_size=%u off=%u\n",
					map->value_size, off);
				return err;
			}
			addr += off;
			err = add_value_region(prog, map, addr);
			if (err)
				return err;
			prog->xlated[i].src_reg = BPF_PSEUDO_MAP_VALUE;
			prog->xlated[i + 1].imm = (int32_t)off;
		} else {
			addr = (uintptr_t)map;
			prog->xlated[i].src_reg = BPF_PSEUDO_MAP_FD;
			prog->xlated[i + 1].imm = 0;
		}
		prog->xlated[i].imm = (int32_t)map->id;
		imm[i] = addr;
		i++;
	}
	return 0;
}

/* The VM's callback for ld_imm64: the values resolve_pseudo_ldimm64 computed. */
static int prog_resolve_imm64(void *user, uint32_t insn_idx, uint8_t src_reg, int32_t imm,
			      int32_t next_imm, uint64_t *value)
{
	const uint64_t *resolved = ((const struct bpf_prog *)user)->load_imm;

	(void)imm;
	(void)next_imm;
	if (src_reg != BPF_PSEUDO_MAP_FD && src_reg != BPF_PSEUDO_MAP_VALUE &&
	    src_reg != BPF_PSEUDO_MAP_IDX && src_reg != BPF_PSEUDO_MAP_IDX_VALUE)
		return -EINVAL; /* BTF ids: no kernel BTF here */
	*value = resolved[insn_idx];
	return 0;
}

/* ---- Context accesses (convert_ctx_accesses) ------------------------------------------ */

/*
 * Which registers hold the context at each instruction, without a verifier: a forward
 * data-flow pass from r1 at entry through register moves and bpf-to-bpf calls. `must` is
 * what every path agrees on, `may` what some path says; an access whose base is only a
 * "may" is rejected, as the kernel rejects an instruction used with different pointer types.
 * Spills of the context to the stack are not followed (the access then reaches the internal
 * struct unconverted; the VM still bounds it).
 */
struct ctx_flow {
	uint16_t *must, *may;
	uint8_t *seen;
	uint32_t *work;
	uint32_t nr_work, len;
};

static void ctx_flow_to(struct ctx_flow *f, int64_t to, uint16_t must, uint16_t may)
{
	uint16_t nmust, nmay;

	if (to < 0 || to >= f->len)
		return; /* the VM's validator rejects the jump */
	if (!f->seen[to]) {
		f->seen[to] = 1;
		f->must[to] = must;
		f->may[to] = may;
		f->work[f->nr_work++] = (uint32_t)to;
		return;
	}
	nmust = f->must[to] & must;
	nmay = f->may[to] | may;
	if (nmust == f->must[to] && nmay == f->may[to])
		return;
	f->must[to] = nmust;
	f->may[to] = nmay;
	f->work[f->nr_work++] = (uint32_t)to;
}

#define CALLER_SAVED 0x3fu /* r0..r5 */

static void ctx_flow_step(struct ctx_flow *f, const struct nsbpf_insn *insns, uint32_t i)
{
	const struct nsbpf_insn *insn = &insns[i];
	uint16_t must = f->must[i], may = f->may[i];
	uint16_t dst = (uint16_t)(1u << insn->dst_reg), src = (uint16_t)(1u << insn->src_reg);
	uint8_t cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	switch (cls) {
	case BPF_LD:
		if (insn->code == LD_IMM64) {
			ctx_flow_to(f, i + 2, must & ~dst, may & ~dst);
			return;
		}
		ctx_flow_to(f, i + 1, must & ~CALLER_SAVED, may & ~CALLER_SAVED);
		return;
	case BPF_LDX:
		ctx_flow_to(f, i + 1, must & ~dst, may & ~dst);
		return;
	case BPF_ST:
		ctx_flow_to(f, i + 1, must, may);
		return;
	case BPF_STX:
		if (BPF_MODE(insn->code) == BPF_ATOMIC) {
			uint16_t clobber = src | 1u; /* fetch forms write src, cmpxchg r0 */

			ctx_flow_to(f, i + 1, must & ~clobber, may & ~clobber);
			return;
		}
		ctx_flow_to(f, i + 1, must, may);
		return;
	case BPF_ALU:
	case BPF_ALU64:
		if (insn->code == (BPF_ALU64 | BPF_MOV | BPF_X) && !insn->off) {
			must = (must & ~dst) | ((must & src) ? dst : 0);
			may = (may & ~dst) | ((may & src) ? dst : 0);
		} else {
			must &= ~dst;
			may &= ~dst;
		}
		ctx_flow_to(f, i + 1, must, may);
		return;
	default: /* BPF_JMP, BPF_JMP32 */
		break;
	}
	if (op == BPF_EXIT)
		return;
	if (op == BPF_CALL) {
		if (insn->src_reg == BPF_PSEUDO_CALL && BPF_SRC(insn->code) == BPF_K)
			ctx_flow_to(f, (int64_t)i + insn->imm + 1, must & 0x3e, may & 0x3e);
		ctx_flow_to(f, i + 1, must & ~CALLER_SAVED, may & ~CALLER_SAVED);
		return;
	}
	if (op == BPF_JA) {
		ctx_flow_to(f, (int64_t)i + (cls == BPF_JMP32 ? insn->imm : insn->off) + 1, must, may);
		return;
	}
	ctx_flow_to(f, i + 1, must, may);
	ctx_flow_to(f, (int64_t)i + insn->off + 1, must, may);
}

static const uint8_t bpf_size_bytes[4] = { 4, 2, 1, 8 }; /* BPF_W, H, B, DW >> 3 */

/* One access of @size bytes at @off of the context: rewritten in place, or -EACCES. */
static int convert_ctx_access(const struct bpf_ctx_desc *ctx, struct nsbpf_insn *insn,
			      bool write, struct load_log *log, uint32_t idx)
{
	int size = bpf_size_bytes[BPF_SIZE(insn->code) >> 3];
	int off = insn->off;

	if (off < 0 || (uint32_t)(off + size) > ctx->size || off % size ||
	    (ctx->u32_only && size != 4) || (write && ctx->read_only))
		goto invalid;
	for (uint32_t k = 0; k < ctx->nr_ptr_fields; k++) {
		const struct bpf_ctx_ptr_field *p = &ctx->ptr_fields[k];

		if (off + size <= p->off || off >= p->off + 4)
			continue;
		if (write || off != p->off || size != 4)
			goto invalid;
		insn->code = BPF_LDX | BPF_MEM | BPF_DW;
		insn->off = (int16_t)p->real_off;
		return 0;
	}
	return 0;

invalid:
	verbose(log, "%u: invalid bpf_context access off=%d size=%d\n", idx, off, size);
	return -EACCES;
}

static int convert_ctx_accesses(const struct bpf_ctx_desc *ctx, struct nsbpf_insn *insns,
				uint32_t len, struct load_log *log)
{
	struct ctx_flow f = { .len = len };
	int err = -ENOMEM;

	/*
	 * One block for the four arrays (widest first, for alignment): loads are a hot
	 * control-plane path, and this runs for every program. Each instruction is pushed at
	 * most once per change of its 2 x 11 bits, hence the size of work.
	 */
	f.work = calloc(1, ((size_t)len * 23 + 1) * sizeof(*f.work) +
				   (size_t)len * (2 * sizeof(*f.must) + 1));
	if (!f.work)
		goto out_free;
	f.must = (uint16_t *)(f.work + (size_t)len * 23 + 1);
	f.may = f.must + len;
	f.seen = (uint8_t *)(f.may + len);

	ctx_flow_to(&f, 0, 1u << BPF_REG_1, 1u << BPF_REG_1);
	while (f.nr_work)
		ctx_flow_step(&f, insns, f.work[--f.nr_work]);

	err = 0;
	for (uint32_t i = 0; i < len && !err; i++) {
		struct nsbpf_insn *insn = &insns[i];
		uint8_t cls = BPF_CLASS(insn->code);
		uint16_t base;
		bool write;

		if (insn->code == LD_IMM64) {
			i++;
			continue;
		}
		if (cls == BPF_LDX && BPF_MODE(insn->code) == BPF_MEM) {
			base = (uint16_t)(1u << insn->src_reg);
			write = false;
		} else if ((cls == BPF_ST || cls == BPF_STX) &&
			   (BPF_MODE(insn->code) == BPF_MEM || BPF_MODE(insn->code) == BPF_ATOMIC)) {
			base = (uint16_t)(1u << insn->dst_reg);
			write = true;
		} else {
			continue;
		}
		if (!f.seen[i] || !(f.may[i] & base))
			continue;
		if (!(f.must[i] & base)) {
			verbose(log, "%u: same insn cannot be used with different pointers\n", i);
			err = -EINVAL;
		} else if (BPF_MODE(insn->code) == BPF_ATOMIC) {
			verbose(log, "%u: BPF_ATOMIC stores into R%d ctx is not allowed\n", i,
				insn->dst_reg);
			err = -EACCES;
		} else {
			err = convert_ctx_access(ctx, insn, write, log, i);
		}
	}

out_free:
	free(f.work);
	return err;
}

/* ---- Tag ------------------------------------------------------------------------------ */

void bpf_prog_calc_tag(const struct nsbpf_insn *insns, uint32_t len, uint8_t tag[BPF_TAG_SIZE])
{
	struct nsbpf_insn *raw = malloc((size_t)len * sizeof(*raw) + 1);
	uint8_t digest[32];
	bool was_ld_map = false;

	if (!raw) {
		memset(tag, 0, BPF_TAG_SIZE);
		return;
	}
	/* map fds (and value offsets) are unstable from user space: they do not count */
	for (uint32_t i = 0; i < len; i++) {
		raw[i] = insns[i];
		if (!was_ld_map && raw[i].code == LD_IMM64 &&
		    (raw[i].src_reg == BPF_PSEUDO_MAP_FD || raw[i].src_reg == BPF_PSEUDO_MAP_VALUE)) {
			was_ld_map = true;
			raw[i].imm = 0;
		} else if (was_ld_map && !raw[i].code && !raw[i].dst_reg && !raw[i].src_reg &&
			   !raw[i].off) {
			was_ld_map = false;
			raw[i].imm = 0;
		} else {
			was_ld_map = false;
		}
	}
	sha256(raw, (size_t)len * sizeof(*raw), digest);
	memcpy(tag, digest, BPF_TAG_SIZE);
	free(raw);
}

/* ---- Lifetime ------------------------------------------------------------------------- */

static uint64_t ktime_get_boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bpf_prog_free(struct bpf_prog *prog)
{
	nsbpf_vm_prog_free(prog->vm);
	for (uint32_t i = 0; i < prog->used_map_cnt; i++)
		bpf_map_put(prog->used_maps[i]);
	if (prog->btf)
		bpf_btf_put(prog->btf);
	free(prog->used_maps);
	free(prog->value_regions);
	free(prog->xlated);
	free(prog);
}

/* Runs may still be using the program under the RCU read lock: free after a grace period. */
struct bpf_prog_free_rcu {
	struct rcu_head rcu;
	struct bpf_prog *prog;
};

static void bpf_prog_free_rcu(struct rcu_head *head)
{
	struct bpf_prog_free_rcu *p = caa_container_of(head, struct bpf_prog_free_rcu, rcu);

	struct bpf_state *st = p->prog->st;

	bpf_prog_free(p->prog);
	free(p);
	/* last: freeing may have queued more releases, counted before this drops */
	atomic_fetch_sub(&st->rcu_pending, 1);
}

void bpf_prog_inc(struct bpf_prog *prog)
{
	refcount_inc(&prog->refcnt);
}

int bpf_prog_inc_not_zero(struct bpf_prog *prog)
{
	return refcount_inc_not_zero(&prog->refcnt) ? 0 : -ENOENT;
}

const uint8_t *bpf_prog_tag(const struct bpf_prog *prog)
{
	return prog->tag;
}

void bpf_prog_put(struct bpf_prog *prog)
{
	struct bpf_prog_free_rcu *deferred;

	if (!prog || !refcount_dec_and_test(&prog->refcnt))
		return;
	if (prog->id) {
		pthread_mutex_lock(&prog->st->idr_lock);
		idr_remove(&prog->st->prog_idr, prog->id);
		pthread_mutex_unlock(&prog->st->idr_lock);
		prog->id = 0;
	}
	deferred = malloc(sizeof(*deferred));
	if (!deferred) {
		/* no memory to defer with: wait for the readers here instead */
		synchronize_rcu();
		bpf_prog_free(prog);
		return;
	}
	deferred->prog = prog;
	atomic_fetch_add(&prog->st->rcu_pending, 1);
	bpf_rcu_thread_online(); /* call_rcu enters a read-side section */
	urcu_memb_call_rcu(&deferred->rcu, bpf_prog_free_rcu);
}

uint32_t bpf_prog_id(const struct bpf_prog *prog)
{
	return prog->id;
}

uint32_t bpf_prog_type(const struct bpf_prog *prog)
{
	return prog->type;
}

uint32_t bpf_prog_expected_attach_type(const struct bpf_prog *prog)
{
	return prog->expected_attach_type;
}

struct bpf_prog *bpf_prog_from_fd(struct bpf_state *st, int fd, int *err)
{
	struct bpf_file *file = bpf_fd_get(st, fd);
	struct bpf_prog *prog = NULL;

	if (!file) {
		*err = -EBADF;
		return NULL;
	}
	if (file->kind == BPF_FILE_PROG) {
		prog = file->obj;
		bpf_prog_inc(prog);
		*err = 0;
	} else {
		*err = -EINVAL;
	}
	bpf_file_put(file);
	return prog;
}

/* ---- PROG_LOAD ------------------------------------------------------------------------ */

/* Instructions the kernel's verifier would count on a straight run: lddw counts once. */
static uint32_t count_verified_insns(const struct nsbpf_insn *insns, uint32_t len)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < len; i++, n++)
		if (insns[i].code == LD_IMM64)
			i++;
	return n;
}

/* A non-GPL program calling a GPL-only helper is refused, as by the kernel's verifier. */
static int check_gpl_only_calls(const struct bpf_prog *prog, const struct nsbpf_insn *insns,
				struct load_log *log)
{
	if (prog->gpl_compatible)
		return 0;
	for (uint32_t i = 0; i < prog->len; i++) {
		const struct nsbpf_insn *insn = &insns[i];

		if (insn->code == (BPF_JMP | BPF_CALL) && insn->src_reg == 0 &&
		    bpf_helper_gpl_only(insn->imm)) {
			verbose(log, "cannot call GPL-restricted function from non-GPL compatible "
				     "program\n");
			return -EINVAL;
		}
	}
	return 0;
}

/* The VM half of the load: ctx conversion, the helper table, validation. */
static int bpf_check(struct bpf_prog *prog, const union bpf_attr *attr, struct nsbpf_insn *insns,
		     struct load_log *log)
{
	struct nsbpf_vm_env env = { .sz = sizeof(env) };
	uint64_t *imm;
	char vm_log[256] = "";
	int err;

	imm = calloc(prog->len, sizeof(*imm));
	if (!imm)
		return -ENOMEM;
	err = resolve_pseudo_ldimm64(prog, attr, insns, imm, log);
	if (err)
		goto out_free;
	err = convert_ctx_accesses(prog->desc->ctx, insns, prog->len, log);
	if (err)
		goto out_free;

	err = check_gpl_only_calls(prog, insns, log);
	if (err)
		goto out_free;
	env.helpers = bpf_prog_type_helpers(prog->type, &env.nr_helpers);
	/* without a verifier, this is the part of its work that no run-time check can do */
	env.flags = NSBPF_VM_F_CHECK_REGS;
	env.resolve_imm64 = prog_resolve_imm64;
	env.tail_call = bpf_tail_call_target;
	env.user = prog;
	prog->load_imm = imm;
	err = nsbpf_vm_load(insns, prog->len, &env, &prog->vm, vm_log, sizeof(vm_log));
	prog->load_imm = NULL;
	if (err)
		verbose(log, "%s\n", vm_log[0] ? vm_log : "invalid program");

out_free:
	free(imm);
	return err;
}

int bpf_prog_load(struct bpf_state *st, union bpf_attr *attr, struct bpf_prog **progp)
{
	const struct bpf_prog_type_desc *desc;
	struct nsbpf_insn *insns = NULL;
	struct load_log log = { .len = 0 };
	struct bpf_prog *prog;
	char license[128];
	int err, log_err;
	int id;

	if (attr->prog_flags & ~BPF_PROG_LOAD_FLAGS)
		return -EINVAL;
	if (attr->prog_flags & BPF_F_TOKEN_FD_) /* no BPF tokens here */
		return -EINVAL;
	desc = bpf_prog_type_desc(attr->prog_type);
	/* bpf_prog_load_fixup_attach_type */
	if (desc && desc->default_attach_type && !attr->expected_attach_type)
		attr->expected_attach_type = desc->default_attach_type;
	if (attr->insn_cnt == 0 || attr->insn_cnt > BPF_COMPLEXITY_LIMIT_INSNS)
		return -E2BIG;
	if (bpf_prog_load_check_attach(desc, attr))
		return -EINVAL;

	prog = calloc(1, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	refcount_set(&prog->refcnt, 1);
	prog->st = st;
	prog->desc = desc;
	prog->type = attr->prog_type;
	prog->expected_attach_type = attr->expected_attach_type;
	prog->prog_flags = attr->prog_flags;
	prog->len = attr->insn_cnt;
	prog->created_by_uid = (uint32_t)getuid();

	insns = malloc((size_t)prog->len * sizeof(*insns));
	prog->xlated = malloc((size_t)prog->len * sizeof(*insns));
	if (!insns || !prog->xlated) {
		err = -ENOMEM;
		goto err_free_prog;
	}
	if (copy_from_user(insns, u64_to_user_ptr(attr->insns),
			   (size_t)prog->len * sizeof(*insns)) ||
	    copy_license(license, attr->license, sizeof(license))) {
		err = -EFAULT;
		goto err_free_prog;
	}
	prog->gpl_compatible = license_is_gpl_compatible(license);
	if (attr->prog_ifindex) {
		err = -EOPNOTSUPP; /* offload and dev-bound XDP: no such devices here */
		goto err_free_prog;
	}
	if (!desc) {
		err = -EINVAL; /* find_prog_type */
		goto err_free_prog;
	}
	prog->load_time = ktime_get_boottime_ns();
	err = bpf_obj_name_cpy(prog->name, attr->prog_name, sizeof(attr->prog_name));
	if (err)
		goto err_free_prog;

	/* bpf_check from here: the log attributes first */
	if (!bpf_log_attr_valid(attr->log_level, attr->log_buf, attr->log_size)) {
		err = -EINVAL;
		goto err_free_prog;
	}
	if (attr->prog_btf_fd) {
		prog->btf = bpf_btf_from_fd(st, (int)attr->prog_btf_fd, &err);
		if (!prog->btf)
			goto err_free_prog;
	}
	bpf_prog_calc_tag(insns, prog->len, prog->tag);
	memcpy(prog->xlated, insns, (size_t)prog->len * sizeof(*insns));
	prog->verified_insns = count_verified_insns(insns, prog->len);
	err = bpf_check(prog, attr, insns, &log);
	if (attr->log_level)
		verbose(&log,
			"processed %u insns (limit %u) max_states_per_insn 0 total_states 0 "
			"peak_states 0 mark_read 0\n",
			err ? 0 : prog->verified_insns, BPF_COMPLEXITY_LIMIT_INSNS);
	log_err = attr->log_level ? bpf_log_write(attr->log_level, attr->log_buf,
						  attr->log_size, log.buf) :
				    0;
	if (log_err)
		err = log_err; /* a truncated log fails the load, whatever the verdict */
	if (err)
		goto err_free_prog;
	/* the xlated dump shows the converted context accesses too */
	for (uint32_t i = 0; i < prog->len; i++)
		if (!is_map_ldimm64(&prog->xlated[i]) &&
		    (i == 0 || !is_map_ldimm64(&prog->xlated[i - 1])))
			prog->xlated[i] = insns[i];

	pthread_mutex_lock(&st->idr_lock);
	id = idr_alloc_cyclic(&st->prog_idr, prog, 1, INT32_MAX);
	if (id > 0)
		prog->id = (uint32_t)id;
	pthread_mutex_unlock(&st->idr_lock);
	if (id < 0) {
		err = id == -ENOSPC ? -ENOSPC : -ENOMEM;
		goto err_free_prog;
	}
	free(insns);
	*progp = prog;
	return 0;

err_free_prog:
	free(insns);
	bpf_prog_free(prog);
	return err;
}

/* ---- Info and fdinfo ------------------------------------------------------------------ */

/* The kernel's memlock figure: bpf_prog_size(len) rounded up to pages. */
static uint64_t bpf_prog_memlock(const struct bpf_prog *prog)
{
	uint64_t size = BPF_PROG_HEADER_SIZE + (uint64_t)prog->len * sizeof(struct nsbpf_insn);

	return (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
}

/* set_info_rec_size: record sizes must be the kernel's, or 0 with a count of 0. */
static int set_info_rec_size(struct bpf_prog_info *info)
{
	if ((info->nr_func_info || info->func_info_rec_size) &&
	    info->func_info_rec_size != sizeof(struct bpf_func_info))
		return -EINVAL;
	if ((info->nr_line_info || info->line_info_rec_size) &&
	    info->line_info_rec_size != sizeof(struct bpf_line_info))
		return -EINVAL;
	if ((info->nr_jited_line_info || info->jited_line_info_rec_size) &&
	    info->jited_line_info_rec_size != sizeof(uint64_t))
		return -EINVAL;
	info->func_info_rec_size = sizeof(struct bpf_func_info);
	info->line_info_rec_size = sizeof(struct bpf_line_info);
	info->jited_line_info_rec_size = sizeof(uint64_t);
	return 0;
}

int bpf_prog_get_info_by_fd(struct bpf_state *st, struct bpf_prog *prog,
			    const union bpf_attr *attr, union bpf_attr *uattr)
{
	void *uinfo = u64_to_user_ptr(attr->info.info);
	uint32_t info_len = attr->info.info_len, ulen;
	struct bpf_prog_info info;
	int err;

	(void)st;
	err = bpf_check_uarg_tail_zero(uinfo, sizeof(info), info_len);
	if (err)
		return err;
	if (info_len > sizeof(info))
		info_len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (copy_from_user(&info, uinfo, info_len))
		return -EFAULT;

	info.type = prog->type;
	info.id = prog->id;
	info.load_time = prog->load_time;
	info.created_by_uid = prog->created_by_uid;
	info.gpl_compatible = prog->gpl_compatible;
	memcpy(info.tag, prog->tag, sizeof(info.tag));
	memcpy(info.name, prog->name, sizeof(info.name));

	ulen = info.nr_map_ids;
	info.nr_map_ids = prog->used_map_cnt;
	if (ulen > info.nr_map_ids)
		ulen = info.nr_map_ids;
	for (uint32_t i = 0; i < ulen; i++) {
		uint32_t id = prog->used_maps[i]->id;

		if (copy_to_user(u64_to_user_ptr(info.map_ids + (uint64_t)i * sizeof(id)), &id,
				 sizeof(id)))
			return -EFAULT;
	}

	err = set_info_rec_size(&info);
	if (err)
		return err;

	info.run_time_ns = atomic_load(&prog->run_time_ns);
	info.run_cnt = atomic_load(&prog->run_cnt);
	info.recursion_misses = atomic_load(&prog->recursion_misses);
	info.verified_insns = prog->verified_insns;
	info.btf_id = prog->btf ? bpf_btf_id(prog->btf) : 0;

	ulen = info.xlated_prog_len;
	info.xlated_prog_len = prog->len * sizeof(struct nsbpf_insn);
	if (info.xlated_prog_len && ulen) {
		if (ulen > info.xlated_prog_len)
			ulen = info.xlated_prog_len;
		if (copy_to_user(u64_to_user_ptr(info.xlated_prog_insns), prog->xlated, ulen))
			return -EFAULT;
	}

	/* no JIT: nothing jited to show */
	info.jited_prog_len = 0;
	info.nr_jited_ksyms = 0;
	info.nr_jited_func_lens = 0;

	ulen = info.nr_prog_tags;
	info.nr_prog_tags = 1;
	if (ulen && copy_to_user(u64_to_user_ptr(info.prog_tags), prog->tag, BPF_TAG_SIZE))
		return -EFAULT;

	info.nr_func_info = 0;
	info.nr_line_info = 0;
	info.nr_jited_line_info = 0;

	if (copy_to_user(uinfo, &info, info_len) ||
	    copy_to_user(&uattr->info.info_len, &info_len, sizeof(info_len)))
		return -EFAULT;
	return 0;
}

int bpf_prog_show_fdinfo(const struct bpf_prog *prog, char *buf, size_t size)
{
	char tag[2 * BPF_TAG_SIZE + 1];

	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(&tag[2 * i], 3, "%02x", prog->tag[i]);
	return snprintf(buf, size,
			"prog_type:\t%u\n"
			"prog_jited:\t0\n"
			"prog_tag:\t%s\n"
			"memlock:\t%llu\n"
			"prog_id:\t%u\n"
			"run_time_ns:\t%llu\n"
			"run_cnt:\t%llu\n"
			"recursion_misses:\t%llu\n"
			"verified_insns:\t%u\n",
			prog->type, tag, (unsigned long long)bpf_prog_memlock(prog), prog->id,
			(unsigned long long)atomic_load(&prog->run_time_ns),
			(unsigned long long)atomic_load(&prog->run_cnt),
			(unsigned long long)atomic_load(&prog->recursion_misses),
			prog->verified_insns);
}

/* ---- Running -------------------------------------------------------------------------- */

bool bpf_prog_uses_map(const struct bpf_prog *prog, const struct bpf_map *map)
{
	for (uint32_t i = 0; i < prog->used_map_cnt; i++)
		if (prog->used_maps[i] == map)
			return true;
	return false;
}

static uint64_t ktime_get_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bpf_prog_run(const struct bpf_prog *prog, struct nsbpf_vm_run *run, void *ctx,
		 uint64_t *ret)
{
	struct bpf_prog *p = (struct bpf_prog *)prog; /* statistics only */
	struct bpf_run_ctx run_ctx = { .prog = prog, .nr_reserved = 0 };
	void *saved_user = run->user;
	bool stats = atomic_load_explicit(&prog->st->stats_enabled, memory_order_relaxed) > 0;
	uint64_t start = 0;
	int err = 0;

	/* the program's global data, for this run only */
	for (uint32_t i = 0; i < prog->nr_value_regions && !err; i++)
		err = nsbpf_vm_run_lend_region(run, prog->value_regions[i].start,
					       prog->value_regions[i].len,
					       prog->value_regions[i].flags);
	if (err) {
		nsbpf_vm_run_drop_lent_regions(run);
		return err;
	}
	run->user = &run_ctx;
	bpf_rcu_thread_online();
	if (stats)
		start = ktime_get_ns();
	rcu_read_lock();
	err = nsbpf_vm_exec(prog->vm, run, (uintptr_t)ctx, 0, ret);
	bpf_run_ctx_release(&run_ctx);
	rcu_read_unlock();
	if (stats) {
		atomic_fetch_add_explicit(&p->run_time_ns, ktime_get_ns() - start,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&p->run_cnt, 1, memory_order_relaxed);
	}
	run->user = saved_user;
	return err;
}

/* ---- PROG_TEST_RUN (the per-type work is in test_run.c) ------------------------------ */

int bpf_prog_test_run(struct bpf_state *st, const union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_prog *prog;
	int err = -ENOTSUPP;

	if ((attr->test.ctx_size_in && !attr->test.ctx_in) ||
	    (!attr->test.ctx_size_in && attr->test.ctx_in))
		return -EINVAL;
	if ((attr->test.ctx_size_out && !attr->test.ctx_out) ||
	    (!attr->test.ctx_size_out && attr->test.ctx_out))
		return -EINVAL;
	prog = bpf_prog_from_fd(st, (int)attr->test.prog_fd, &err);
	if (!prog)
		return err;
	err = -ENOTSUPP;
	if (prog->desc->test_run)
		err = prog->desc->test_run(st, prog, attr, uattr);
	bpf_prog_put(prog);
	return err;
}
