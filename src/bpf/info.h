/* SPDX-License-Identifier: MIT */
/*
 * info.h - the OBJ_GET_INFO_BY_FD structs as Linux 6.18 defines them
 * (include/uapi/linux/bpf.h of v6.18), where the installed uapi header (6.1) is older.
 *
 * The kernel uses its own sizeof for the tail-zero check and for the info_len it returns
 * (KERNEL-NOTES §4.6), so nsbpf must use these sizes, not the installed header's. Measured on
 * 6.18 with an oversized zeroed buffer: map 104 (header: 88), prog 232 (= header), btf 32
 * (= header), link 64 (header: 48; the union grew with uprobe_multi's 48 bytes).
 */
#ifndef NSBPF_BPF_INFO_H
#define NSBPF_BPF_INFO_H

#include <linux/bpf.h>
#include <stdint.h>

/* 6.18 struct bpf_map_info: the 6.1 fields, then the map's SHA-256 (signed programs). */
struct bpf_map_info_6_18 {
	struct bpf_map_info base; /* type .. map_extra: 88 bytes, 8-aligned */
	__aligned_u64 hash;	  /* user buffer for the hash; 0: no hash wanted */
	__u32 hash_size;	  /* must be SHA256_DIGEST_SIZE with hash, 0 without */
	__u32 :32;
};

/*
 * 6.18 struct bpf_link_info: the union grew to uprobe_multi's 48 bytes; the types nsbpf fills
 * all fit in the 6.1 part, the rest is zero (or the caller's bytes, read back).
 */
struct bpf_link_info_6_18 {
	struct bpf_link_info base; /* 48 bytes, 8-aligned */
	__u8 tail[16];
};

#define BPF_MAP_INFO_SIZE_6_18 104
#define BPF_PROG_INFO_SIZE_6_18 232
#define BPF_BTF_INFO_SIZE_6_18 32
#define BPF_LINK_INFO_SIZE_6_18 64

_Static_assert(sizeof(struct bpf_map_info_6_18) == BPF_MAP_INFO_SIZE_6_18,
	       "struct bpf_map_info of 6.18 is 104 bytes");
_Static_assert(sizeof(struct bpf_link_info_6_18) == BPF_LINK_INFO_SIZE_6_18,
	       "struct bpf_link_info of 6.18 is 64 bytes");
_Static_assert(sizeof(struct bpf_prog_info) == BPF_PROG_INFO_SIZE_6_18,
	       "struct bpf_prog_info: 6.18 size");
_Static_assert(sizeof(struct bpf_btf_info) == BPF_BTF_INFO_SIZE_6_18,
	       "struct bpf_btf_info: 6.18 size");

#define BPF_SHA256_DIGEST_SIZE 32

#endif /* NSBPF_BPF_INFO_H */
