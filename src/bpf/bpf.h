/* SPDX-License-Identifier: MIT */
/*
 * bpf.h - what the files of the BPF subsystem share: its per-runtime state, files and fds,
 * user memory access, ids, and the program and BTF objects (maps: map.h, links: link.h).
 *
 * Ownership in one line per object: a struct bpf_file is owned by the fds that point at it
 * (dups share one file, as in the kernel); a file holds one reference on its object; ids are
 * owned by the object and removed when it is freed; a pin in bpffs holds a reference.
 * Commands hold a reference on every object they work on for as long as they use it.
 *
 * Split of work between files:
 *   syscall.c  the bpf() dispatcher: attr size rules, CHECK_ATTR, one function per command
 *   fd.c       the fd table (fd -> struct bpf_file), fd creation by dup of an anchor file
 *   uaccess.c  copy_from_user / copy_to_user that turn faults into -EFAULT
 *   prog.c     programs: PROG_LOAD, info, tag, run statistics, PROG_TEST_RUN
 *   helpers.c  helper functions programs call, per program type
 *   btf.c      BTF objects: BTF_LOAD, info
 *   bpffs.c    the virtual bpf filesystem: OBJ_PIN, OBJ_GET
 *   link.c     the generic bpf_link (prime/settle/cleanup, update, detach, info, fdinfo)
 *   map*.c     the maps (map.h)
 */
#ifndef NSBPF_BPF_BPF_H
#define NSBPF_BPF_BPF_H

#include <linux/bpf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nsbpf/bpf.h"
#include "nsbpf/vm.h"

#include "core/idr.h"
#include "map.h"

struct bpf_prog;
struct bpf_btf;
struct bpf_link;
struct bpffs;
struct bpf_fdtable;

/* What a bpf fd refers to; also what readlink(/proc/self/fd/N) shows. */
enum bpf_file_kind {
	BPF_FILE_PROG, /* anon_inode:bpf-prog */
	BPF_FILE_MAP,  /* anon_inode:bpf-map */
	BPF_FILE_LINK, /* anon_inode:bpf_link (LINK_CREATE) or bpf-link (GET_FD_BY_ID) */
	BPF_FILE_BTF,  /* anon_inode:btf */
	BPF_FILE_NET,  /* net:[INUM]: an open /proc/PID/ns/net (obj: struct nsbpf_net handle) */
	BPF_FILE_CGROUP, /* a cgroup2 directory opened O_DIRECTORY (obj: struct nsbpf_cgroup) */
};

/* An open file: shared by an fd and its dups; holds one reference on its object. */
struct bpf_file {
	_Atomic int64_t refcnt; /* fds pointing here + commands in flight */
	enum bpf_file_kind kind;
	void *obj;	     /* struct bpf_prog / bpf_map / bpf_link / bpf_btf, referenced */
	uint32_t f_flags;    /* O_RDWR / O_RDONLY / O_WRONLY as fdinfo shows them */
	uint32_t fmode;	     /* maps: BPF_MAP_FMODE_READ / _WRITE of this file */
	const char *anon_name; /* "bpf-prog", "bpf-map", "bpf_link", "bpf-link", "btf" */
};

/* The BPF subsystem of one runtime: the kernel's globals of kernel/bpf made per instance. */
struct bpf_state {
	struct nsbpf_runtime *rt; /* no reference: the runtime owns us */
	/* Protects the four id spaces (the kernel's prog_idr_lock, map_idr_lock, ...). */
	pthread_mutex_t idr_lock;
	struct idr prog_idr, map_idr, link_idr, btf_idr;
	struct bpf_fdtable *fdt;
	struct bpffs *fs;
	struct bpf_map_env map_env;
	_Atomic int stats_enabled; /* BPF_ENABLE_STATS fds open (bpf_stats_enabled_key) */
	char *trace_log;	   /* bpf_trace_printk output, see helpers.c */
	size_t trace_log_len;
	pthread_mutex_t trace_lock; /* protects trace_log */
};

/* The BPF state of @rt, created on first use; NULL only on -ENOMEM. */
struct bpf_state *bpf_state_get(struct nsbpf_runtime *rt);

/* User memory (uaccess.c): 0 or -EFAULT, never a crash. */
int copy_from_user(void *dst, const void *usrc, size_t len);
int copy_to_user(void *udst, const void *src, size_t len);
/* The map layer's struct bpf_uaccess doing the above. */
extern const struct bpf_uaccess bpf_uaccess_user;
/* u64 attr fields that hold user pointers */
static inline void *u64_to_user_ptr(uint64_t v)
{
	return (void *)(uintptr_t)v;
}

/* Files and fds (fd.c). */
struct bpf_file *bpf_file_new(enum bpf_file_kind kind, void *obj, uint32_t f_flags);
void bpf_file_put(struct bpf_file *file); /* the last put drops the object's reference */
/* Installs @file (consuming the caller's reference) at a new fd. fd or -EMFILE/-ENOMEM. */
int bpf_fd_install(struct bpf_state *st, struct bpf_file *file, bool cloexec);
/* The file behind @fd with a reference, or NULL (not one of ours: the caller says -EBADF). */
struct bpf_file *bpf_fd_get(struct bpf_state *st, int fd);

/* Program objects (prog.c). */
struct bpf_prog *bpf_prog_from_fd(struct bpf_state *st, int fd, int *err); /* -EBADF/-EINVAL */
void bpf_prog_inc(struct bpf_prog *prog);
void bpf_prog_put(struct bpf_prog *prog);
uint32_t bpf_prog_id(const struct bpf_prog *prog);
uint32_t bpf_prog_type(const struct bpf_prog *prog);
/* PROG_LOAD after CHECK_ATTR: a new program with one reference, or a negative errno. */
int bpf_prog_load(struct bpf_state *st, union bpf_attr *attr, struct bpf_prog **prog);
/* OBJ_GET_INFO_BY_FD's struct bpf_prog_info, with the kernel's info_len rules. */
int bpf_prog_get_info_by_fd(struct bpf_state *st, struct bpf_prog *prog,
			    const union bpf_attr *attr, union bpf_attr *uattr);
/* The lines after the generic ones in /proc/self/fdinfo (prog_type, prog_jited, ...). */
int bpf_prog_show_fdinfo(const struct bpf_prog *prog, char *buf, size_t size);
int bpf_prog_test_run(struct bpf_state *st, const union bpf_attr *attr, union bpf_attr *uattr);

/* BTF objects (btf.c). */
int bpf_btf_load(struct bpf_state *st, union bpf_attr *attr, struct bpf_btf **btf);
struct bpf_btf *bpf_btf_from_fd(struct bpf_state *st, int fd, int *err);
void bpf_btf_put(struct bpf_btf *btf);
uint32_t bpf_btf_id(const struct bpf_btf *btf);
int bpf_btf_get_info_by_fd(struct bpf_state *st, struct bpf_btf *btf,
			   const union bpf_attr *attr, union bpf_attr *uattr);

#endif /* NSBPF_BPF_BPF_H */
