/* SPDX-License-Identifier: MIT */
/*
 * prog.h - programs inside the BPF subsystem (internal to src/bpf): struct bpf_prog, the
 * table of program types, the contexts programs see, and running a program.
 *
 * prog.c loads programs (PROG_LOAD) and describes them (info, fdinfo, tag); helpers.c
 * provides the helper table of each program type; test_run.c runs them on demand
 * (PROG_TEST_RUN); the attach points (cgroup.c, net_namespace.c, xdp.c) run them through
 * bpf_prog_run(). The VM (nsbpf/vm.h) does the executing; this layer gives it helpers,
 * map pointers for ld_imm64, tail-call targets and the memory of each run.
 */
#ifndef NSBPF_BPF_PROG_H
#define NSBPF_BPF_PROG_H

#include <linux/bpf.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nsbpf/vm.h"

#include "bpf.h"
#include "core/refcount.h"

/* BPF_COMPLEXITY_LIMIT_INSNS: the insn_cnt limit of a loader with CAP_BPF. */
#define BPF_COMPLEXITY_LIMIT_INSNS 1000000u
/* Bytes of struct bpf_prog before its instructions (6.18, x86-64): memlock's base. */
#define BPF_PROG_HEADER_SIZE 96u

/*
 * The context of a program whose uapi context holds 32-bit packet pointers (struct xdp_md,
 * struct __sk_buff). The program sees the uapi struct at the start; the real 64-bit
 * pointers follow it. prog.c rewrites the program's u32 loads of data/data_end/data_meta
 * into u64 loads of the pointers below, as the kernel's convert_ctx_access rewrites them
 * into loads from struct xdp_buff / sk_buff. Whoever runs the program fills both parts.
 */
struct bpf_xdp_ctx {
	struct xdp_md md; /* data, data_end, data_meta: ignored by the program (see above) */
	uint64_t data;
	uint64_t data_end;
	uint64_t data_meta;
};

struct bpf_skb_ctx {
	struct __sk_buff skb;
	uint64_t data;
	uint64_t data_end;
	uint64_t data_meta;
};

/*
 * A flow dissector's context: the __sk_buff view it may read (data, data_end, and flow_keys,
 * a real pointer in the uapi struct's 64-bit field), and whether an skb backs the packet:
 * bpf_skb_load_bytes needs one, and a test run, like the kernel's eth_get_headlen, has none.
 */
struct bpf_flow_dissector_ctx {
	struct bpf_skb_ctx skb;
	bool has_skb;
};

/* The context of one program type: its size and how loads and stores of it are checked. */
struct bpf_ctx_desc {
	uint32_t size;	/* what the program may touch: sizeof the uapi struct */
	uint32_t alloc; /* sizeof the internal struct (bpf_xdp_ctx ...): the run's ctx region */
	/* 32-bit pointer fields: uapi offset -> offset of the u64 in the internal struct */
	const struct bpf_ctx_ptr_field {
		uint16_t off;
		uint16_t real_off;
	} *ptr_fields;
	uint32_t nr_ptr_fields;
	bool read_only; /* no store into the context at all (xdp_md) */
	bool u32_only;	/* every access is a whole aligned u32 (xdp_md) */
};

struct bpf_prog;

/*
 * PROG_TEST_RUN of one program type (net/bpf/test_run.c's bpf_prog_test_run_*): attr is the
 * kernel copy, uattr the caller's (outputs are written there).
 */
typedef int (*bpf_prog_test_run_fn)(struct bpf_state *st, struct bpf_prog *prog,
				    const union bpf_attr *attr, union bpf_attr *uattr);

/* One program type nsbpf implements, as the kernel's bpf_prog_ops/bpf_verifier_ops pair. */
struct bpf_prog_type_desc {
	uint32_t type;
	const char *name; /* bpftool's name */
	/*
	 * Allowed expected_attach_type values (bit per enum bpf_attach_type), the kernel's
	 * bpf_prog_load_check_attach; 0: any value is accepted.
	 */
	uint64_t attach_types;
	/* bpf_prog_load_fixup_attach_type: what expected_attach_type 0 becomes (0: stays). */
	uint32_t default_attach_type;
	const struct bpf_ctx_desc *ctx;
	bpf_prog_test_run_fn test_run; /* NULL: -ENOTSUPP */
};

/* The program type's description, or NULL for a type nsbpf does not implement. */
const struct bpf_prog_type_desc *bpf_prog_type_desc(uint32_t type);

/* A region ld_imm64 BPF_PSEUDO_MAP_VALUE gave the program (a map's global data). */
struct bpf_prog_value_region {
	const void *start;
	uint32_t len;
	uint32_t flags; /* NSBPF_VM_READ, or NSBPF_VM_RW unless the map is BPF_F_RDONLY_PROG */
};

/*
 * A loaded program. Everything but the statistics is set at load and never changes, so
 * any number of threads may run it at once.
 */
struct bpf_prog {
	refcount_t refcnt; /* fds, pins, links, attachments, PROG_ARRAY slots, commands */
	struct bpf_state *st; /* no reference: the runtime outlives its programs */
	const struct bpf_prog_type_desc *desc;
	uint32_t type;
	uint32_t expected_attach_type;
	uint32_t prog_flags;
	uint32_t id; /* 0 until published in st->prog_idr */
	uint32_t len; /* instructions */
	/* What OBJ_GET_INFO_BY_FD's xlated_prog_insns shows: map references as map ids. */
	struct nsbpf_insn *xlated;
	uint8_t tag[BPF_TAG_SIZE];
	char name[BPF_OBJ_NAME_LEN];
	bool gpl_compatible;
	uint64_t load_time; /* CLOCK_BOOTTIME ns */
	uint32_t created_by_uid;
	uint32_t verified_insns;
	/* Maps the program's ld_imm64 refer to: one reference each, dropped at free. */
	struct bpf_map **used_maps;
	uint32_t used_map_cnt;
	/* Global data (BPF_PSEUDO_MAP_VALUE targets), granted to every run of the program. */
	struct bpf_prog_value_region *value_regions;
	uint32_t nr_value_regions;
	struct bpf_btf *btf; /* prog_btf_fd's BTF, referenced; NULL without */
	struct nsbpf_vm_prog *vm;
	/* The values of ld_imm64 by instruction index, for the VM's resolver: during load only. */
	const uint64_t *load_imm;
	/* Statistics (bpf_prog_stats), collected while st->stats_enabled > 0. */
	_Atomic uint64_t run_cnt;
	_Atomic uint64_t run_time_ns;
	_Atomic uint64_t recursion_misses;
};

/*
 * What a run of a program keeps beside the VM's run context; bpf_prog_run() points
 * run->user at it, so run->user is not free for callers of bpf_prog_run().
 */
#define BPF_RUN_MAX_RESERVED   8 /* ring buffer samples a run may hold at once */
#define BPF_RUN_MAX_INNER_MAPS 8 /* inner maps a run may look up and then use */

struct bpf_run_ctx {
	/* The program running now: the entry program, then each tail call's target. */
	const struct bpf_prog *prog;
	/*
	 * Ring buffer samples reserved and not yet submitted or discarded, with their map
	 * (bpf_ringbuf_submit gets only the sample); what a program leaves is discarded when
	 * the run ends, where the kernel's verifier would have rejected the program.
	 */
	struct {
		void *sample;
		struct bpf_map *map;
	} reserved[BPF_RUN_MAX_RESERVED];
	uint32_t nr_reserved;
	/* Inner maps a map-in-map lookup handed out: valid map arguments for this run. */
	struct bpf_map *inner_maps[BPF_RUN_MAX_INNER_MAPS];
	uint32_t nr_inner_maps;
};

/*
 * Runs @prog over @ctx (the context as the program type defines it; for XDP and __sk_buff
 * programs the internal struct bpf_xdp_ctx / bpf_skb_ctx) in @run, whose regions the caller
 * has set up (context, packet). The program's global data is granted for this run only;
 * statistics are counted while BPF_ENABLE_STATS is on. Takes the RCU read lock. Stores r0 in
 * *ret. Returns 0, or the VM's negative errno (the program faulted: the kernel's verifier
 * would have rejected it; callers treat it as the kernel treats a verdict of 0).
 */
int bpf_prog_run(const struct bpf_prog *prog, struct nsbpf_vm_run *run, void *ctx,
		 uint64_t *ret);

/* The program a run context is executing (helpers.c). */
static inline const struct bpf_prog *bpf_run_prog(const struct nsbpf_vm_run *run)
{
	return ((const struct bpf_run_ctx *)run->user)->prog;
}

/* Whether @map is one of the maps @prog refers to: map arguments of helpers are checked. */
bool bpf_prog_uses_map(const struct bpf_prog *prog, const struct bpf_map *map);

/*
 * The kernel's bpf_prog_calc_tag over @insns: the first 8 bytes of their SHA-256 (6.18; SHA-1
 * before) with the immediates of BPF_PSEUDO_MAP_FD/MAP_VALUE ld_imm64 cleared.
 */
void bpf_prog_calc_tag(const struct nsbpf_insn *insns, uint32_t len, uint8_t tag[BPF_TAG_SIZE]);

/* sha256.c: the SHA-256 digest of @len bytes. */
void sha256(const void *data, size_t len, uint8_t digest[32]);

/* helpers.c: whether helper @id is GPL-only (refused to non-GPL programs). */
bool bpf_helper_gpl_only(int32_t id);
/* helpers.c: the helper table of a program type (indexed by helper id). */
const struct nsbpf_vm_helper *bpf_prog_type_helpers(uint32_t type, uint32_t *nr_helpers);
/* helpers.c: the end of a run: drops what the program left reserved. */
void bpf_run_ctx_release(struct bpf_run_ctx *run_ctx);
/* helpers.c: the tail-call target lookup every program's VM env uses. */
const struct nsbpf_vm_prog *bpf_tail_call_target(struct nsbpf_vm_run *run, uint64_t map,
						 uint64_t index);

/* test_run.c: the PROG_TEST_RUN handlers of the types' table. */
int bpf_prog_test_run_xdp(struct bpf_state *st, struct bpf_prog *prog,
			  const union bpf_attr *attr, union bpf_attr *uattr);
int bpf_prog_test_run_flow_dissector(struct bpf_state *st, struct bpf_prog *prog,
				     const union bpf_attr *attr, union bpf_attr *uattr);
int bpf_prog_test_run_sk_lookup(struct bpf_state *st, struct bpf_prog *prog,
				const union bpf_attr *attr, union bpf_attr *uattr);
int bpf_prog_test_run_skb(struct bpf_state *st, struct bpf_prog *prog,
			  const union bpf_attr *attr, union bpf_attr *uattr);

/* Shared with btf.c: the verifier log's attribute rules (bpf_verifier_log_attr_valid). */
bool bpf_log_attr_valid(uint32_t level, uint64_t ubuf, uint32_t size);
/*
 * Writes @text (NUL-terminated) to the user's log as the kernel's verifier log does: the
 * tail is kept unless BPF_LOG_FIXED, and the buffer is always NUL-terminated. -ENOSPC when
 * it did not fit, -EFAULT; 0.
 */
int bpf_log_write(uint32_t level, uint64_t ubuf, uint32_t size, const char *text);

#endif /* NSBPF_BPF_PROG_H */
