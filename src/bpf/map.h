/* SPDX-License-Identifier: MIT */
/*
 * map.h - the map layer of the BPF subsystem (internal to src/bpf).
 *
 * A map is a struct bpf_map embedded first in its type's own struct (struct bpf_array,
 * struct bpf_htab, struct bpf_ringbuf_map) and reached through one ops table per type,
 * as kernel/bpf does. Two callers use this layer:
 *
 *   - the syscall layer (bpf() commands): it resolves fds, checks the fd's access mode,
 *     copies keys and values between the caller and kernel buffers, and calls the
 *     bpf_map_*() functions below, which reproduce the kernel's checks and errnos from the
 *     point where the kernel's map_*_elem() in syscall.c leaves the fd behind;
 *   - helpers, while a program runs (the data path): they call the ops table directly
 *     (map->ops->map_lookup_elem ...) with the RCU read lock held, and grant the program
 *     the value memory a lookup returns (nsbpf_vm_run_add_region, map->value_size bytes).
 *
 * Ownership: a map is refcounted (bpf_map_inc/bpf_map_put); fds and bpffs pins also hold
 * a "uref" (bpf_map_inc_with_uref), whose last drop clears a PROG_ARRAY as the kernel
 * does. Objects an fd map holds (programs, inner maps) are references obtained through
 * the runtime's struct bpf_map_obj_ops and released after an RCU grace period.
 *
 * RCU: liburcu, memb flavour. Every thread that reads maps must be registered
 * (bpf_rcu_thread_online()). See src/bpf/README.md for the locking rules.
 */
#ifndef NSBPF_BPF_MAP_H
#define NSBPF_BPF_MAP_H

#include <linux/bpf.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "nsbpf/bpf.h"

/* A ring buffer's view crosses from its first copy of the data to the second: two pieces. */
#define BPF_MAP_MMAP_MAX_SEGS 2

/* Errnos the kernel uses internally and leaks to user space (include/linux/errno.h). */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* BPF_F_ACCESS_MASK of include/linux/bpf.h: the access flags a map may be created with. */
#define BPF_F_ACCESS_MASK (BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG)

/* Access of one map fd, as the kernel's FMODE_CAN_READ / FMODE_CAN_WRITE on its file. */
#define BPF_MAP_FMODE_READ  1u
#define BPF_MAP_FMODE_WRITE 2u

/* The kernel's limits that show through map creation (x86-64 values). */
#define BPF_MAP_PAGE_SIZE 4096u
/* KMALLOC_MAX_SIZE: 1 << (MAX_PAGE_ORDER + PAGE_SHIFT) */
#define BPF_MAP_KMALLOC_MAX_SIZE (1ull << 22)
/* PCPU_MIN_UNIT_SIZE */
#define BPF_MAP_PCPU_MIN_UNIT 32768u

#define BPF_MAP_ROUND_UP(x, a) ((((x) + (a)-1) / (a)) * (a))

struct bpf_map;
struct bpf_map_ops;

/*
 * A small lock for map internals (hash buckets, free lists, the ring buffer's producer
 * side): one 32-bit word, a futex when contended (Drepper's three-state mutex). The
 * kernel uses raw spinlocks here; a user-space spinner could spin on a preempted holder.
 */
struct map_lock {
	_Atomic uint32_t state; /* 0 free, 1 locked, 2 locked with waiters */
};

static inline void map_lock_init(struct map_lock *l)
{
	atomic_init(&l->state, 0);
}

static inline void map_lock(struct map_lock *l)
{
	uint32_t c = 0;

	if (atomic_compare_exchange_strong_explicit(&l->state, &c, 1, memory_order_acquire,
						    memory_order_relaxed))
		return;
	if (c != 2)
		c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	while (c != 0) {
		syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	}
}

static inline void map_unlock(struct map_lock *l)
{
	if (atomic_fetch_sub_explicit(&l->state, 1, memory_order_release) != 1) {
		atomic_store_explicit(&l->state, 0, memory_order_release);
		syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

/*
 * What the map layer needs from the runtime above it: the objects fd maps refer to.
 * Every function is provided by the syscall layer; `ctx` is its own pointer.
 */
struct bpf_map_obj_ops {
	/*
	 * The map behind user fd `ufd`, with a new reference (bpf_map_inc): 0, -EBADF when
	 * the fd is not open, -EINVAL when it is not a map (the kernel's __bpf_map_get).
	 */
	int (*map_get)(void *ctx, int ufd, struct bpf_map **map);
	/* The program behind `ufd`, with a new reference: 0, -EBADF, -EINVAL (bpf_prog_get). */
	int (*prog_get)(void *ctx, int ufd, void **prog);
	/*
	 * Drops a reference prog_get gave. Called after an RCU grace period when the
	 * program leaves a PROG_ARRAY, possibly from liburcu's call_rcu thread: it must not
	 * wait for a grace period itself.
	 */
	void (*prog_put)(void *prog);
	uint32_t (*prog_id)(const void *prog);	 /* what a PROG_ARRAY lookup reports */
	uint32_t (*prog_type)(const void *prog); /* enum bpf_prog_type, for the owner check */
	/*
	 * The last reference to `map` is gone: unpublish its id (and anything else the
	 * syscall layer attached, such as BTF) before the map layer frees it. May be NULL.
	 */
	void (*map_free_id)(void *ctx, struct bpf_map *map);
};

/*
 * One runtime's parameters of the map layer. Maps keep a pointer to it: it must outlive
 * every map created with it.
 */
struct bpf_map_env {
	/*
	 * Possible CPUs: the layout of per-CPU values, round_up(value_size, 8) bytes for each
	 * CPU. libbpf computes the same number from /sys/devices/system/cpu/possible.
	 */
	uint32_t nr_cpus;
	const struct bpf_map_obj_ops *obj_ops; /* NULL: fd maps cannot be created */
	void *obj_ctx;
	/*
	 * Deferred releases (call_rcu) queued and not yet run, counted so the runtime's
	 * teardown can wait for chains of them (a release that queues another); NULL: not
	 * counted.
	 */
	_Atomic long *rcu_pending;
};

/*
 * User memory as the syscall layer reaches it (its copy_from_user / copy_to_user): used by
 * the batch commands, which read and write arrays of keys and values element by element as
 * the kernel does. Both return 0 or -EFAULT; address 0 must fault.
 */
struct bpf_uaccess {
	int (*copy_from_user)(const struct bpf_uaccess *ua, void *dst, uint64_t src, size_t len);
	int (*copy_to_user)(const struct bpf_uaccess *ua, uint64_t dst, const void *src,
			    size_t len);
	void *ctx;
};

/* A batch command of one map type; it updates attr->batch.count in place. */
typedef int (*bpf_map_batch_fn)(struct bpf_map *map, union bpf_attr *attr,
				const struct bpf_uaccess *ua);

/*
 * The operations of one map type. The generic layer (map.c) calls through this table and
 * never switches on the type; a NULL entry means the kernel's answer for a missing op
 * (documented at each caller below).
 */
struct bpf_map_ops {
	/* Creation: attribute checks that need no memory, then allocation; and the end. */
	int (*map_alloc_check)(union bpf_attr *attr);
	int (*map_alloc)(union bpf_attr *attr, const struct bpf_map_env *env,
			 struct bpf_map **mapp);
	void (*map_free)(struct bpf_map *map);
	/* The last uref (fd or pin) is gone (PROG_ARRAY: drop every program). */
	void (*map_release_uref)(struct bpf_map *map);
	/* May a map of this type be the template of a map-in-map? NULL: -ENOTSUPP. */
	bool (*map_meta_equal)(const struct bpf_map *meta0, const struct bpf_map *meta1);
	uint64_t (*map_mem_usage)(const struct bpf_map *map);
	/* Bytes of a value on the syscall side (bpf_map_value_size); NULL: value_size. */
	uint32_t (*map_sys_value_size)(const struct bpf_map *map);
	/*
	 * OBJ_GET_INFO_BY_FD's `hash` (6.18, plain ARRAY only): the SHA-256 of the values of a
	 * frozen map into @hash (@size bytes, SHA-256's 32). NULL: -EINVAL.
	 */
	int (*map_get_hash)(struct bpf_map *map, uint32_t size, void *hash);

	/*
	 * Data path (helpers, RCU read lock held), also the syscall side's default. Lookup
	 * returns the value (this CPU's slot for per-CPU maps, the inner struct bpf_map for
	 * map-in-map) or NULL. Update and delete return 0 or a negative errno.
	 */
	void *(*map_lookup_elem)(struct bpf_map *map, const void *key);
	long (*map_update_elem)(struct bpf_map *map, const void *key, const void *value,
				uint64_t flags);
	long (*map_delete_elem)(struct bpf_map *map, const void *key);
	/* Per-CPU maps only (bpf_map_lookup_percpu_elem): CPU `cpu`'s value, or NULL. */
	void *(*map_lookup_percpu_elem)(struct bpf_map *map, const void *key, uint32_t cpu);
	/* A syscall-side lookup that must not disturb the map (LRU: no reference bit). */
	void *(*map_lookup_elem_sys_only)(struct bpf_map *map, const void *key);

	/*
	 * Syscall side. copy_value/update_value replace the kernel's switch in
	 * bpf_map_copy_value/bpf_map_update_value: per-CPU maps copy every CPU's value, fd
	 * maps translate objects to ids and fds to objects. NULL: the data-path op.
	 */
	int (*map_get_next_key)(struct bpf_map *map, const void *key, void *next_key);
	int (*map_copy_value)(struct bpf_map *map, const void *key, void *value, uint64_t flags);
	int (*map_update_value)(struct bpf_map *map, const void *key, const void *value,
				uint64_t flags);
	int (*map_lookup_and_delete_elem)(struct bpf_map *map, const void *key, void *value,
					  uint64_t flags);

	/* Batch commands; NULL: -ENOTSUPP. */
	bpf_map_batch_fn map_lookup_batch;
	bpf_map_batch_fn map_lookup_and_delete_batch;
	bpf_map_batch_fn map_update_batch;
	bpf_map_batch_fn map_delete_batch;

	/* fd maps: an fd to a held object, the object back to what user space sees. */
	int (*map_fd_get_ptr)(struct bpf_map *map, int ufd, void **ptr);
	void (*map_fd_put_ptr)(struct bpf_map *map, void *ptr, bool need_defer);
	uint32_t (*map_fd_sys_lookup_elem)(void *ptr);

	/* ld_imm64 BPF_PSEUDO_MAP_VALUE: the address of the value at `off`. */
	int (*map_direct_value_addr)(const struct bpf_map *map, uint64_t *imm, uint32_t off);
	/*
	 * mmap(2) of the map fd, after the generic checks (bpf_map_mmap): the view as pieces of
	 * the map's memory file laid end to end. Their number, or -errno.
	 */
	int (*map_mmap_segs)(struct bpf_map *map, size_t len, int prot, uint64_t pgoff,
			     struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS]);
	/*
	 * The memory file: where its offset 0 is mapped here (the file lies there linearly), and
	 * the file itself (-1 if it could not be kept: no view for another process then).
	 */
	char *(*map_mmap_file)(const struct bpf_map *map, int *memfd);
};

/*
 * The generic part of every map. Fields set at creation never change afterwards except
 * where marked.
 */
struct bpf_map {
	const struct bpf_map_ops *ops;
	const struct bpf_map_env *env; /* no reference: the runtime outlives its maps */
	uint32_t map_type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	/* Creation flags without BPF_F_RDONLY/WRONLY, which belong to the fd, not the map. */
	uint32_t map_flags;
	int32_t numa_node; /* -1 (NUMA_NO_NODE) unless BPF_F_NUMA_NODE */
	uint64_t map_extra;
	char name[BPF_OBJ_NAME_LEN];
	/* Set by the syscall layer once the map is published; cleared by map_free_id. */
	uint32_t id;
	/* Set by the syscall layer when the map is created with BTF; the map layer ignores them. */
	uint32_t btf_id;
	uint32_t btf_key_type_id;
	uint32_t btf_value_type_id;

	_Atomic int64_t refcnt;	 /* every holder: fds, pins, programs, outer maps, commands */
	_Atomic int64_t usercnt; /* fds and pins only (the kernel's uref) */
	/* Syscall-side writers in flight and writable mmaps: freeze must wait for none. */
	_Atomic int64_t writecnt;

	/* Protects `frozen` against writable mmaps being set up (kernel freeze_mutex). */
	pthread_mutex_t freeze_mutex;
	_Atomic bool frozen; /* set once by BPF_MAP_FREEZE, never cleared */

	/* map-in-map: a template of the inner maps (type, sizes, flags), owned. */
	struct bpf_map *inner_map_meta;

	/* Protects owner_*: the program type every program using this map must have. */
	struct map_lock owner_lock;
	bool owner_set;
	uint32_t owner_prog_type;
};

/* Every map type nsbpf implements: uapi type, ops table, name (as bpftool prints it). */
#define BPF_MAP_TYPES(X)                                                                           \
	X(BPF_MAP_TYPE_HASH, htab_map_ops, "hash")                                                 \
	X(BPF_MAP_TYPE_ARRAY, array_map_ops, "array")                                              \
	X(BPF_MAP_TYPE_PROG_ARRAY, prog_array_map_ops, "prog_array")                               \
	X(BPF_MAP_TYPE_PERCPU_HASH, htab_percpu_map_ops, "percpu_hash")                            \
	X(BPF_MAP_TYPE_PERCPU_ARRAY, percpu_array_map_ops, "percpu_array")                         \
	X(BPF_MAP_TYPE_LRU_HASH, htab_lru_map_ops, "lru_hash")                                     \
	X(BPF_MAP_TYPE_LRU_PERCPU_HASH, htab_lru_percpu_map_ops, "lru_percpu_hash")                \
	X(BPF_MAP_TYPE_ARRAY_OF_MAPS, array_of_maps_map_ops, "array_of_maps")                      \
	X(BPF_MAP_TYPE_HASH_OF_MAPS, htab_of_maps_map_ops, "hash_of_maps")                         \
	X(BPF_MAP_TYPE_RINGBUF, ringbuf_map_ops, "ringbuf")

#define BPF_MAP_TYPE_OPS_DECL(type, ops, name) extern const struct bpf_map_ops ops;
BPF_MAP_TYPES(BPF_MAP_TYPE_OPS_DECL)
#undef BPF_MAP_TYPE_OPS_DECL

/* bpftool's name of a map type, or NULL for a type nsbpf does not implement. */
const char *bpf_map_type_name(uint32_t map_type);

/* ---- RCU ------------------------------------------------------------------------- */

/*
 * Registers the calling thread with liburcu (memb) once, unless it is registered already
 * (by core/rcu.h's rcu_register_thread(), whose caller then unregisters it); a thread
 * registered here is unregistered when it exits. Every thread that takes
 * urcu_memb_read_lock() must be registered (the syscall-side functions below call this
 * themselves). A thread registered here must not register again elsewhere: a second
 * registration corrupts liburcu's list.
 */
void bpf_rcu_thread_online(void);

/* ---- Creation and lifetime --------------------------------------------------------- */

/* For the types' map_alloc: the attributes every map keeps (bpf_map_init_from_attr). */
void bpf_map_init_from_attr(struct bpf_map *map, const union bpf_attr *attr,
			    const struct bpf_map_env *env);
/* BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other (bpf_map_flags_access_ok). */
static inline bool bpf_map_flags_access_ok(uint32_t flags)
{
	return (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !=
	       (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
}
/* The node asked for, or -1 (NUMA_NO_NODE) without BPF_F_NUMA_NODE. */
static inline int bpf_map_attr_numa_node(const union bpf_attr *attr)
{
	return (attr->map_flags & BPF_F_NUMA_NODE) ? (int)attr->numa_node : -1;
}
/* Per-CPU maps: each CPU's value is round_up(value_size, 8) bytes. */
static inline uint32_t bpf_map_percpu_size(const struct bpf_map *map)
{
	return BPF_MAP_ROUND_UP(map->value_size, 8);
}
uint32_t bpf_map_percpu_value_size(const struct bpf_map *map);
/* fd maps: user space reads and writes a u32 (an fd in, an id out). */
uint32_t bpf_map_fd_value_size(const struct bpf_map *map);

/*
 * BPF_MAP_CREATE below the syscall layer: from the map_extra check to the name copy, in
 * the kernel's order (map_create()). The syscall layer has already rejected non-zero
 * fields after the command's last one, checked the BTF ids and cleared BPF_F_TOKEN_FD;
 * it attaches BTF, allocates the id and installs the fd afterwards. On success *mapp holds
 * one reference and one uref (the fd's). Errors: -EINVAL, -E2BIG, -ENOMEM, -ENOTSUPP and
 * those of obj_ops->map_get for inner_map_fd.
 */
int bpf_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env, struct bpf_map **mapp);

void bpf_map_inc(struct bpf_map *map);
void bpf_map_inc_with_uref(struct bpf_map *map);
/* A reference unless the map is already being freed (id lookup): 0 or -ENOENT. */
int bpf_map_inc_not_zero(struct bpf_map *map, bool uref);
/* Drops a reference; the last one frees the map (after obj_ops->map_free_id). */
void bpf_map_put(struct bpf_map *map);
void bpf_map_put_with_uref(struct bpf_map *map);

/* Bytes of a value as bpf() sees it: per-CPU maps hold one rounded value per CPU, fd maps a u32. */
uint32_t bpf_map_value_size(const struct bpf_map *map);
/* The kernel's map memlock figure (fdinfo "memlock", bpftool "memlock"). */
uint64_t bpf_map_mem_usage(const struct bpf_map *map);
/* The CPU the calling thread runs on, as an index of per-CPU values (< env->nr_cpus). */
uint32_t bpf_map_this_cpu(const struct bpf_map *map);

/* ---- Access control (what the syscall layer checks before the element commands) ----- */

/*
 * The fd access mode the flags ask for (BPF_F_RDONLY/BPF_F_WRONLY of map_create and
 * open_flags of MAP_GET_FD_BY_ID / OBJ_GET): a BPF_MAP_FMODE_* mask, or -EINVAL for both
 * (the kernel's bpf_get_file_flag).
 */
int bpf_map_fmode_from_flags(uint32_t flags);
/*
 * The access an fd with `fmode` has now: a frozen map is read-only from the syscall side
 * (map_get_sys_perms). Lookups and GET_NEXT_KEY need READ (-EPERM), updates and deletes
 * WRITE, LOOKUP_AND_DELETE both.
 */
uint32_t bpf_map_sys_perms(struct bpf_map *map, uint32_t fmode);
/* Around every syscall-side write (update, delete, write batches), as the kernel does. */
void bpf_map_write_active_inc(struct bpf_map *map);
void bpf_map_write_active_dec(struct bpf_map *map);
/*
 * BPF_MAP_FREEZE after the fd is resolved: -EPERM without write access (so a second freeze
 * is -EPERM: the first made the map read-only), -EBUSY while a syscall write or a writable
 * mmap is active. Measured on 6.18.
 */
int bpf_map_freeze(struct bpf_map *map, uint32_t fmode);
/*
 * BPF_F_LOCK in a command's flags needs a bpf_spin_lock in the value, which needs BTF: -EINVAL
 * for every map here. The kernel checks it after the access check and before copying the key
 * (lookup, update, lookup-and-delete); the element functions below check it again.
 */
int bpf_map_check_lock_flag(const struct bpf_map *map, uint64_t flags);
/* After a successful syscall-side write of a map-in-map: wait for running programs. */
void bpf_map_maybe_wait_programs(struct bpf_map *map);

/* ---- Syscall-side element commands (kernel buffers; RCU taken inside) --------------- */

/*
 * BPF_MAP_LOOKUP_ELEM: copies bpf_map_value_size() bytes. `flags` other than BPF_F_LOCK
 * are the syscall layer's -EINVAL (checked before the fd); BPF_F_LOCK is -EINVAL here
 * (no map has a bpf_spin_lock without BTF). -ENOENT, -ENOTSUPP (ringbuf).
 */
int bpf_map_copy_value(struct bpf_map *map, const void *key, void *value, uint64_t flags);
/* BPF_MAP_UPDATE_ELEM: value is bpf_map_value_size() bytes (an fd for fd maps). */
int bpf_map_update_value(struct bpf_map *map, const void *key, const void *value, uint64_t flags);
/* BPF_MAP_DELETE_ELEM. */
int bpf_map_delete_value(struct bpf_map *map, const void *key);
/* BPF_MAP_GET_NEXT_KEY: key NULL means "the first key". */
int bpf_map_next_key(struct bpf_map *map, const void *key, void *next_key);
/*
 * BPF_MAP_LOOKUP_AND_DELETE_ELEM (hash maps only; others -ENOTSUPP). The syscall layer
 * rejects flags other than BPF_F_LOCK with -EINVAL before resolving the fd.
 */
int bpf_map_lookup_and_delete_value(struct bpf_map *map, const void *key, void *value,
				    uint64_t flags);
/*
 * The four batch commands (cmd = BPF_MAP_*_BATCH) after the fd and its access are
 * checked: -ENOTSUPP when the type has no such op. attr->batch.count is updated in place
 * and must be written back to the caller's attr whatever the result.
 */
int bpf_map_do_batch(struct bpf_map *map, int cmd, union bpf_attr *attr,
		     const struct bpf_uaccess *ua);
/* The generic batch ops of syscall.c, for the ops tables. */
int generic_map_lookup_batch(struct bpf_map *map, union bpf_attr *attr,
			     const struct bpf_uaccess *ua);
int generic_map_update_batch(struct bpf_map *map, union bpf_attr *attr,
			     const struct bpf_uaccess *ua);
int generic_map_delete_batch(struct bpf_map *map, union bpf_attr *attr,
			     const struct bpf_uaccess *ua);

/* ---- mmap --------------------------------------------------------------------------- */

/*
 * The checks of bpf_map_mmap() and the pieces of the view (map_mmap_segs), for a view made
 * elsewhere (another process's). A writable view counts as an active writer until
 * bpf_map_mmap_close(). Returns the number of pieces, or -errno.
 */
int bpf_map_mmap_segs(struct bpf_map *map, size_t len, int prot, int flags, uint64_t off,
		      struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS]);
/*
 * The memory file of a map that can be mapped, kept open at a high fd number (as the runtime's
 * other files, so that a process sees the fd numbers the kernel would give it): the fd, or -1
 * with @memfd closed when there is no room.
 */
int bpf_map_keep_memfd(int memfd);
/*
 * mmap(2) of a map fd (ARRAY with BPF_F_MMAPABLE, RINGBUF): the kernel's bpf_map_mmap
 * checks (-ENOTSUPP without mmap support, -EINVAL without MAP_SHARED, -EPERM for
 * PROT_EXEC or writing a frozen map, -EACCES writing a BPF_F_RDONLY_PROG map), then the
 * type's own. A writable mapping counts as an active writer until bpf_map_mmap_close().
 * `addr` with MAP_FIXED places the mapping there.
 */
int bpf_map_mmap(struct bpf_map *map, void *addr, size_t len, int prot, int flags, uint64_t off,
		 void **out);
/* The mapping `bpf_map_mmap` gave is gone (munmap); `writable`: it had PROT_WRITE. */
void bpf_map_mmap_close(struct bpf_map *map, bool writable);

/* ---- Programs and fd maps ----------------------------------------------------------- */

/*
 * The kernel's bpf_prog_map_compatible for the owner part: the first program that uses a
 * PROG_ARRAY (at load, or stored in it) fixes the program type all others must have.
 */
bool bpf_map_prog_compatible(struct bpf_map *map, uint32_t prog_type);
/*
 * An object an fd map holds: a program or an inner map, with the reference it owns. The
 * element is what the map stores; it is freed, and the reference dropped, after an RCU
 * grace period when the slot changes (map_in_map.c's bpf_inner_map_element, for programs too).
 */
struct bpf_fd_elem {
	void *ptr; /* struct bpf_map * (map-in-map) or the syscall layer's program */
	/* Set for programs: how to drop the reference. NULL: ptr is a struct bpf_map. */
	const struct bpf_map_obj_ops *prog_ops;
	_Atomic long *rcu_pending; /* the env's counter while a deferred release is queued */
	struct rcu_head rcu;
};

/* Wraps a referenced object; -ENOMEM (then the caller still owns the reference). */
int bpf_fd_elem_new(void *ptr, const struct bpf_map_obj_ops *prog_ops, struct bpf_fd_elem **out);
/* Drops the element and its reference: now, or after a grace period (need_defer). */
void bpf_fd_elem_put(const struct bpf_map_env *env, struct bpf_fd_elem *elem, bool need_defer);

/*
 * map-in-map (the kernel's map_in_map.c): the template of inner maps made from
 * inner_map_fd at creation (-EBADF, -EINVAL for a map-in-map, -ENOTSUPP for a type that
 * cannot be inner), and the fd-to-element ops the *_OF_MAPS tables share.
 */
/*
 * ARRAY_OF_MAPS / HASH_OF_MAPS creation: the inner map template from attr->inner_map_fd, then
 * the outer map by @alloc, which gets the template (map_in_map.c's part of both types).
 */
int bpf_map_of_maps_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			  struct bpf_map **mapp,
			  int (*alloc)(union bpf_attr *attr, const struct bpf_map_env *env,
				       struct bpf_map **mapp));
int bpf_map_meta_alloc(const struct bpf_map_env *env, int inner_map_ufd, struct bpf_map **meta);
bool bpf_map_meta_equal(const struct bpf_map *meta0, const struct bpf_map *meta1);
int bpf_map_fd_get_ptr(struct bpf_map *map, int ufd, void **ptr);
void bpf_map_fd_put_ptr(struct bpf_map *map, void *ptr, bool need_defer);
uint32_t bpf_map_fd_sys_lookup_elem(void *ptr);

/* Tail calls: the program at `index` of a PROG_ARRAY, or NULL. RCU read lock held. */
void *bpf_prog_array_map_lookup(struct bpf_map *map, uint32_t index);
/*
 * What programs may do with values (BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG). The kernel's
 * verifier enforces it at load; here the helper layer does, when it grants a looked-up
 * value's region (read, write) and before it updates or deletes.
 */
static inline bool bpf_map_prog_may_read(const struct bpf_map *map)
{
	return !(map->map_flags & BPF_F_WRONLY_PROG);
}

static inline bool bpf_map_prog_may_write(const struct bpf_map *map)
{
	return !(map->map_flags & BPF_F_RDONLY_PROG);
}

/* Whether the map's values are objects (PROG_ARRAY, *_OF_MAPS): programs may only look up. */
bool bpf_map_is_fd_map(const struct bpf_map *map);

/* ---- Ring buffer (helpers; the map pointer is the one the program passed) ------------- */

/* bpf_ringbuf_reserve: a sample of `size` bytes, or NULL (no room, flags != 0). */
void *bpf_ringbuf_reserve(struct bpf_map *map, uint64_t size, uint64_t flags);
/*
 * bpf_ringbuf_submit / bpf_ringbuf_discard of a sample reserved from `map` (the helper
 * layer tracks which map a sample came from: there is no verifier to prove it). -EINVAL
 * when `sample` is not a reserved record of this ring.
 */
int bpf_ringbuf_submit(struct bpf_map *map, void *sample, uint64_t flags);
int bpf_ringbuf_discard(struct bpf_map *map, void *sample, uint64_t flags);
/* bpf_ringbuf_output: 0, -EINVAL (flags), -EAGAIN (no room). */
long bpf_ringbuf_output(struct bpf_map *map, const void *data, uint64_t size, uint64_t flags);
/* bpf_ringbuf_query (BPF_RB_AVAIL_DATA, RING_SIZE, CONS_POS, PROD_POS; else 0). */
uint64_t bpf_ringbuf_query(struct bpf_map *map, uint64_t flags);
/*
 * An eventfd the ring signals where the kernel wakes its poll waiters (a record committed
 * where the consumer waits, or BPF_RB_FORCE_WAKEUP); for the syscall layer's poll/epoll.
 * Created on the first call (the ring keeps no fd until then) and owned by the ring: the
 * caller dups it if it needs its own. Negative errno if it cannot be created.
 */
int bpf_ringbuf_wakeup_fd(struct bpf_map *map);
/* Whether unconsumed data is in the ring (the kernel's poll: EPOLLIN | EPOLLRDNORM). */
bool bpf_ringbuf_has_data(struct bpf_map *map);

#endif /* NSBPF_BPF_MAP_H */
