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
#include "core/net_namespace.h"
#include "map.h"

struct bpf_prog;
struct bpf_btf;
struct bpf_link;
struct bpffs;
struct bpf_fdtable;
struct bpf_user_mapping;

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* What a bpf fd refers to; also what readlink(/proc/self/fd/N) shows. */
enum bpf_file_kind {
	BPF_FILE_PROG, /* anon_inode:bpf-prog */
	BPF_FILE_MAP,  /* anon_inode:bpf-map */
	BPF_FILE_LINK, /* anon_inode:bpf_link (LINK_CREATE) or bpf-link (GET_FD_BY_ID) */
	BPF_FILE_BTF,  /* anon_inode:btf */
	BPF_FILE_STATS, /* anon_inode:bpf-stats (ENABLE_STATS); obj: the struct bpf_state */
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
	_Atomic bool ready;	  /* published and registered (bpf_state_get()) */
	/* Protects the four id spaces (the kernel's prog_idr_lock, map_idr_lock, ...). */
	pthread_mutex_t idr_lock;
	struct idr prog_idr, map_idr, link_idr, btf_idr;
	struct bpf_fdtable *fdt;
	struct bpffs *fs;
	struct bpf_map_env map_env;
	_Atomic int stats_enabled; /* BPF_ENABLE_STATS fds open (bpf_stats_enabled_key) */
	_Atomic long rcu_pending;  /* deferred releases in flight; teardown waits for 0 */
	pthread_mutex_t mmap_lock;		 /* protects mappings */
	struct bpf_user_mapping *mappings; /* live mmap()s of map fds, see mmap.c */
	/* Programs attached to network namespaces (net_namespace.c). */
	pthread_mutex_t netns_bpf_mutex; /* attach, detach, update, release, info, pre_exit */
	struct pernet_operations netns_bpf_ops;
	unsigned int netns_bpf_id;   /* net_generic() slot of the per-namespace state */
	_Atomic int sk_lookup_enabled; /* sk_lookup links in any namespace */
	char *trace_log;	   /* bpf_trace_printk output, see helpers.c */
	size_t trace_log_len;
	pthread_mutex_t trace_lock; /* protects trace_log */
};

/* The BPF state of @rt, created on first use; NULL only on -ENOMEM. */
struct bpf_state *bpf_state_get(struct nsbpf_runtime *rt);
/* The BPF state of @rt if it was created, else NULL (never creates it). */
struct bpf_state *bpf_state_peek(struct nsbpf_runtime *rt);

/*
 * The task the calling thread acts as in @rt (nsbpf_set_current_task()), or the runtime's
 * init task. No reference: the caller of nsbpf_set_current_task() keeps it alive.
 */
struct task_struct *bpf_current_task(struct nsbpf_runtime *rt);

/*
 * The map layer's struct bpf_map_obj_ops (syscall.c): fds resolve through the fd table, map
 * ids are freed from map_idr. obj_ctx is the struct bpf_state.
 */
extern const struct bpf_map_obj_ops bpf_map_obj_ops_sys;

/* Drops every mapping still recorded (mmap.c), when the runtime goes. */
void bpf_mappings_free(struct bpf_state *st);

/* User memory (uaccess.c): 0 or -EFAULT, never a crash. */
int copy_from_user(void *dst, const void *usrc, size_t len);
int copy_to_user(void *udst, const void *src, size_t len);
/*
 * A NUL-terminated string of at most @count bytes: its length without the NUL, @count if
 * none of the @count bytes is NUL (the kernel's strncpy_from_user), or -EFAULT.
 */
long strncpy_from_user(char *dst, const void *usrc, size_t count);
/*
 * The kernel's bpf_check_uarg_tail_zero: a user struct of @actual_size where we know
 * @expected_size bytes. -E2BIG past PAGE_SIZE or when a byte beyond ours is non-zero,
 * -EFAULT when one cannot be read.
 */
int bpf_check_uarg_tail_zero(const void *uaddr, size_t expected_size, size_t actual_size);
/*
 * Puts the fault handler back on top of whatever SIGSEGV/SIGBUS handler is installed now
 * (it chains to that one). The first copy installs it; call this after installing another.
 */
void bpf_uaccess_install(void);
/* The map layer's struct bpf_uaccess doing the above. */
extern const struct bpf_uaccess bpf_uaccess_user;
/* The process the calling thread acts for (nsbpf_set_caller()); NULL: this one. */
extern __thread const struct nsbpf_caller *bpf_caller __attribute__((tls_model("initial-exec")));
/* Whether fd numbers are the caller's (a caller in another process), not this process's. */
static inline bool bpf_caller_fds(void)
{
	return bpf_caller && bpf_caller->ops->get_fd;
}
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
/* Installs @file at @fd, an fd from bpf_fd_reserve(). Returns the fd (or -errno). */
int bpf_fd_install_at(struct bpf_state *st, int fd, struct bpf_file *file, bool cloexec);
/*
 * Reserves an fd for a file installed later with bpf_fd_install_at() (the kernel's
 * get_unused_fd_flags(O_CLOEXEC)); bpf_fd_unreserve() gives it back unused. An fd or -errno.
 */
int bpf_fd_reserve(struct bpf_state *st);
void bpf_fd_unreserve(struct bpf_state *st, int fd);
/*
 * The errno for an fd bpf_fd_get() did not find: -EINVAL when the process has it open (a
 * file that is not a bpf object: the kernel's "wrong kind"), -EBADF when it is not open.
 */
int bpf_fd_not_ours(struct bpf_state *st, int fd);
/* A new reference on @file (a command that keeps it past bpf_fd_get's). */
void bpf_file_get(struct bpf_file *file);
/* The fd table of a runtime: created with the state, freed with it (closing its fds). */
int bpf_fdtable_new(struct bpf_fdtable **fdt);
void bpf_fdtable_free(struct bpf_fdtable *fdt);

/* Program objects (prog.c). */
struct bpf_prog *bpf_prog_from_fd(struct bpf_state *st, int fd, int *err); /* -EBADF/-EINVAL */
void bpf_prog_inc(struct bpf_prog *prog);
/* A reference unless the last one is already gone (id lookup, idr_lock held): 0 or -ENOENT. */
int bpf_prog_inc_not_zero(struct bpf_prog *prog);
/* The program's tag (BPF_TAG_SIZE bytes), for fdinfo lines of links. */
const uint8_t *bpf_prog_tag(const struct bpf_prog *prog);
void bpf_prog_put(struct bpf_prog *prog);
uint32_t bpf_prog_id(const struct bpf_prog *prog);
uint32_t bpf_prog_type(const struct bpf_prog *prog);
uint32_t bpf_prog_expected_attach_type(const struct bpf_prog *prog);
/* PROG_LOAD after CHECK_ATTR: a new program with one reference, or a negative errno. */
int bpf_prog_load(struct bpf_state *st, union bpf_attr *attr, struct bpf_prog **prog);
/* OBJ_GET_INFO_BY_FD's struct bpf_prog_info, with the kernel's info_len rules. */
int bpf_prog_get_info_by_fd(struct bpf_state *st, struct bpf_prog *prog,
			    const union bpf_attr *attr, union bpf_attr *uattr);
/* The lines after the generic ones in /proc/self/fdinfo (prog_type, prog_jited, ...). */
int bpf_prog_show_fdinfo(const struct bpf_prog *prog, char *buf, size_t size);
int bpf_prog_test_run(struct bpf_state *st, const union bpf_attr *attr, union bpf_attr *uattr);

/*
 * Run arrays (prog_array.c, the kernel's bpf_prog_array): the programs one hook runs, in order,
 * published with rcu_assign_pointer() and read under rcu_read_lock(). An array holds no
 * references: whoever attached the programs (a link, a direct attachment) holds them, and frees
 * a replaced array with bpf_prog_array_free(), which waits for the readers. A NULL slot (a
 * program taken out in place when no memory was left for a new array) is skipped.
 */
struct bpf_prog_array {
	uint32_t cnt;
	struct bpf_prog *progs[];
};

struct bpf_prog_array *bpf_prog_array_alloc(uint32_t cnt);
/* The programs in @array (NULL slots left out). */
uint32_t bpf_prog_array_length(const struct bpf_prog_array *array);
/* Frees @array after a grace period (counted in st->rcu_pending). NULL: nothing. */
void bpf_prog_array_free(struct bpf_state *st, struct bpf_prog_array *array);
/*
 * PROG_QUERY's ids: @cnt u32 slots at @uids get the ids of the first programs, the rest zero;
 * -ENOSPC when the array has more than @cnt, -EFAULT.
 */
int bpf_prog_array_copy_to_user(const struct bpf_prog_array *array, uint64_t uids, uint32_t cnt);

/* BTF objects (btf.c). */
int bpf_btf_load(struct bpf_state *st, union bpf_attr *attr, struct bpf_btf **btf);
struct bpf_btf *bpf_btf_from_fd(struct bpf_state *st, int fd, int *err);
void bpf_btf_put(struct bpf_btf *btf);
/* A reference unless the last one is already gone (id lookup, idr_lock held): 0 or -ENOENT. */
int bpf_btf_inc_not_zero(struct bpf_btf *btf);
void bpf_btf_inc(struct bpf_btf *btf);
uint32_t bpf_btf_id(const struct bpf_btf *btf);
int bpf_btf_get_info_by_fd(struct bpf_state *st, struct bpf_btf *btf,
			   const union bpf_attr *attr, union bpf_attr *uattr);
/* The fdinfo line after the generic ones ("btf_id:\t<id>\n"); snprintf's return. */
int bpf_btf_show_fdinfo(const struct bpf_btf *btf, char *buf, size_t size);

/*
 * The virtual bpf filesystem (bpffs.c): pins under its mount point ("/sys/fs/bpf" unless
 * set). Paths are the caller's strings, absolute or relative to the process's cwd.
 */
struct stat;

int bpffs_new(struct bpffs **fs);
void bpffs_free(struct bpffs *fs);
/* Whether @path resolves to the mount point or below it. */
bool bpffs_path_is_ours(struct bpf_state *st, const char *path);
/* OBJ_PIN after the fd is resolved: @file's object gets a pin holding its own reference. */
int bpffs_pin(struct bpf_state *st, const char *path, struct bpf_file *file);
/* OBJ_GET: a new file for the object pinned at @path, with @f_flags (O_RDONLY ...). */
int bpffs_get(struct bpf_state *st, const char *path, uint32_t f_flags, struct bpf_file **file);
/* mkdir(2), unlink(2) and rmdir(2) under the mount point, for the shim: 0 or -errno. */
int bpffs_mkdir(struct bpf_state *st, const char *path, uint32_t mode);
int bpffs_unlink(struct bpf_state *st, const char *path);
int bpffs_rmdir(struct bpf_state *st, const char *path);
/* stat(2) of a directory or pin (bpffs has no symlinks: lstat is the same): 0 or -errno. */
int bpffs_stat(struct bpf_state *st, const char *path, struct stat *stbuf);
/* The listing of a directory, as nsbpf_bpffs_readdir() gives it. */
long bpffs_readdir(struct bpf_state *st, const char *path, struct nsbpf_bpffs_dirent **ents);

#endif /* NSBPF_BPF_BPF_H */
