// SPDX-License-Identifier: MIT
/*
 * map.c - the generic part of BPF maps: creation, reference counting, freeze and access
 * checks, the syscall-side element and batch commands, mmap, and the map-in-map and
 * fd-element plumbing shared by arraymap.c and hashtab.c.
 *
 * It is kernel/bpf/syscall.c's map half and map_in_map.c, below the fd: the syscall layer
 * resolves the fd, checks its access mode and copies user memory, then calls in here; the
 * type files (arraymap.c, hashtab.c, ringbuf.c) are reached only through the ops tables
 * listed once in BPF_MAP_TYPES (map.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "map.h"

/* For liburcu's per-thread reader state: whether another layer registered the thread. */
#include <urcu/static/urcu-memb.h>

/* NUMA nodes the runtime presents: one (node 0), as on the machines we measured. */
#define BPF_MAP_NR_NODES 1

#define BPF_MAP_TYPE_OPS_ENTRY(type, ops, name) [type] = &ops,
static const struct bpf_map_ops *const bpf_map_types[] = { BPF_MAP_TYPES(BPF_MAP_TYPE_OPS_ENTRY) };
#undef BPF_MAP_TYPE_OPS_ENTRY

#define BPF_MAP_TYPE_NAME_ENTRY(type, ops, name) [type] = name,
static const char *const bpf_map_type_names[] = { BPF_MAP_TYPES(BPF_MAP_TYPE_NAME_ENTRY) };
#undef BPF_MAP_TYPE_NAME_ENTRY

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *bpf_map_type_name(uint32_t map_type)
{
	if (map_type >= ARRAY_SIZE(bpf_map_type_names))
		return NULL;
	return bpf_map_type_names[map_type];
}

/* ---- RCU thread registration ------------------------------------------------------ */

static pthread_key_t rcu_thread_key;
static pthread_once_t rcu_thread_key_once = PTHREAD_ONCE_INIT;
static __thread bool rcu_thread_registered;

static void rcu_thread_exit(void *arg)
{
	(void)arg;
	urcu_memb_unregister_thread();
}

static void rcu_thread_key_init(void)
{
	pthread_key_create(&rcu_thread_key, rcu_thread_exit);
}

void bpf_rcu_thread_online(void)
{
	if (rcu_thread_registered)
		return;
	/* Registered by its owner (the core's workers, a runtime thread): it unregisters too. */
	if (URCU_TLS(urcu_memb_reader).registered) {
		rcu_thread_registered = true;
		return;
	}
	pthread_once(&rcu_thread_key_once, rcu_thread_key_init);
	urcu_memb_register_thread();
	/* A non-NULL value makes the key's destructor run when the thread exits. */
	pthread_setspecific(rcu_thread_key, (void *)1);
	rcu_thread_registered = true;
}

/* ---- Creation and lifetime -------------------------------------------------------- */

void bpf_map_init_from_attr(struct bpf_map *map, const union bpf_attr *attr,
			    const struct bpf_map_env *env)
{
	map->env = env;
	map->map_type = attr->map_type;
	map->key_size = attr->key_size;
	map->value_size = attr->value_size;
	map->max_entries = attr->max_entries;
	/* RDONLY/WRONLY describe the fd, not the map (bpf_map_flags_retain_permanent). */
	map->map_flags = attr->map_flags & ~(BPF_F_RDONLY | BPF_F_WRONLY);
	map->numa_node = bpf_map_attr_numa_node(attr);
	map->map_extra = attr->map_extra;
}

/* Copies isalnum, '_' and '.' characters; the name must end with a NUL within its size. */
static int bpf_obj_name_cpy(char *dst, const char *src, unsigned int size)
{
	const char *end = src + size;
	const char *orig_src = src;

	memset(dst, 0, size);
	while (src < end && *src) {
		unsigned char c = (unsigned char)*src;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return -EINVAL;
		*dst++ = *src++;
	}
	if (src == end)
		return -EINVAL;
	return (int)(src - orig_src);
}

static const struct bpf_map_ops *bpf_map_find_ops(uint32_t map_type)
{
	if (map_type >= ARRAY_SIZE(bpf_map_types))
		return NULL;
	return bpf_map_types[map_type];
}

/* Frees a map that has no references left (or never had one: creation failed). */
static void bpf_map_free(struct bpf_map *map)
{
	struct bpf_map *meta = map->inner_map_meta;

	pthread_mutex_destroy(&map->freeze_mutex);
	map->ops->map_free(map);
	free(meta);
}

int bpf_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env, struct bpf_map **mapp)
{
	const struct bpf_map_ops *ops;
	int numa_node = bpf_map_attr_numa_node(attr);
	struct bpf_map *map;
	int err;

	/* A runtime without CPUs cannot lay out per-CPU values (nor LRU lists, 16-bit CPU ids). */
	if (!env || env->nr_cpus == 0 || env->nr_cpus > UINT16_MAX)
		return -EINVAL;

	/* Only bloom filters and arenas use map_extra; nsbpf has neither. */
	if (attr->map_extra != 0)
		return -EINVAL;

	err = bpf_map_fmode_from_flags(attr->map_flags);
	if (err < 0)
		return err;

	if (numa_node != -1 && (unsigned int)numa_node >= BPF_MAP_NR_NODES)
		return -EINVAL;

	ops = bpf_map_find_ops(attr->map_type);
	if (!ops)
		return -EINVAL;

	if (ops->map_alloc_check) {
		err = ops->map_alloc_check(attr);
		if (err)
			return err;
	}
	/* Offloaded maps need a device that implements them; no device here does. */
	if (attr->map_ifindex)
		return -EINVAL;
	if (!ops->map_mem_usage)
		return -EINVAL;

	err = ops->map_alloc(attr, env, &map);
	if (err)
		return err;
	map->ops = ops;
	map->map_type = attr->map_type;
	pthread_mutex_init(&map->freeze_mutex, NULL);
	map_lock_init(&map->owner_lock);

	err = bpf_obj_name_cpy(map->name, attr->map_name, sizeof(attr->map_name));
	if (err < 0)
		goto err_free_map;

	atomic_store(&map->refcnt, 1);
	atomic_store(&map->usercnt, 1);
	*mapp = map;
	return 0;

err_free_map:
	bpf_map_free(map);
	return err;
}

void bpf_map_inc(struct bpf_map *map)
{
	atomic_fetch_add(&map->refcnt, 1);
}

void bpf_map_inc_with_uref(struct bpf_map *map)
{
	atomic_fetch_add(&map->refcnt, 1);
	atomic_fetch_add(&map->usercnt, 1);
}

int bpf_map_inc_not_zero(struct bpf_map *map, bool uref)
{
	int64_t old = atomic_load(&map->refcnt);

	do {
		if (old == 0)
			return -ENOENT;
	} while (!atomic_compare_exchange_weak(&map->refcnt, &old, old + 1));
	if (uref)
		atomic_fetch_add(&map->usercnt, 1);
	return 0;
}

void bpf_map_put(struct bpf_map *map)
{
	if (atomic_fetch_sub(&map->refcnt, 1) != 1)
		return;
	/* The id goes first, so no id lookup finds a map being freed. */
	if (map->env && map->env->obj_ops && map->env->obj_ops->map_free_id)
		map->env->obj_ops->map_free_id(map->env->obj_ctx, map);
	bpf_map_free(map);
}

static void bpf_map_put_uref(struct bpf_map *map)
{
	if (atomic_fetch_sub(&map->usercnt, 1) == 1 && map->ops->map_release_uref)
		map->ops->map_release_uref(map);
}

void bpf_map_put_with_uref(struct bpf_map *map)
{
	bpf_map_put_uref(map);
	bpf_map_put(map);
}

uint32_t bpf_map_percpu_value_size(const struct bpf_map *map)
{
	return bpf_map_percpu_size(map) * map->env->nr_cpus;
}

uint32_t bpf_map_fd_value_size(const struct bpf_map *map)
{
	(void)map;
	return sizeof(uint32_t);
}

uint32_t bpf_map_value_size(const struct bpf_map *map)
{
	if (map->ops->map_sys_value_size)
		return map->ops->map_sys_value_size(map);
	return map->value_size;
}

uint64_t bpf_map_mem_usage(const struct bpf_map *map)
{
	return map->ops->map_mem_usage(map);
}

uint32_t bpf_map_this_cpu(const struct bpf_map *map)
{
	int cpu = sched_getcpu();

	/* The runtime may present fewer CPUs than the host has. */
	return cpu < 0 ? 0 : (uint32_t)cpu % map->env->nr_cpus;
}

/* ---- Access control ---------------------------------------------------------------- */

int bpf_map_fmode_from_flags(uint32_t flags)
{
	if ((flags & BPF_F_RDONLY) && (flags & BPF_F_WRONLY))
		return -EINVAL;
	if (flags & BPF_F_RDONLY)
		return BPF_MAP_FMODE_READ;
	if (flags & BPF_F_WRONLY)
		return BPF_MAP_FMODE_WRITE;
	return BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE;
}

uint32_t bpf_map_sys_perms(struct bpf_map *map, uint32_t fmode)
{
	if (atomic_load(&map->frozen))
		fmode &= ~BPF_MAP_FMODE_WRITE;
	return fmode;
}

void bpf_map_write_active_inc(struct bpf_map *map)
{
	atomic_fetch_add(&map->writecnt, 1);
}

void bpf_map_write_active_dec(struct bpf_map *map)
{
	atomic_fetch_sub(&map->writecnt, 1);
}

int bpf_map_freeze(struct bpf_map *map, uint32_t fmode)
{
	int err = 0;

	if (!(bpf_map_sys_perms(map, fmode) & BPF_MAP_FMODE_WRITE))
		return -EPERM;

	pthread_mutex_lock(&map->freeze_mutex);
	if (atomic_load(&map->writecnt) != 0 || atomic_load(&map->frozen)) {
		err = -EBUSY;
		goto out_unlock;
	}
	atomic_store(&map->frozen, true);
out_unlock:
	pthread_mutex_unlock(&map->freeze_mutex);
	return err;
}

int bpf_map_check_lock_flag(const struct bpf_map *map, uint64_t flags)
{
	(void)map; /* no map records a bpf_spin_lock field without BTF */
	return (flags & BPF_F_LOCK) ? -EINVAL : 0;
}

void bpf_map_maybe_wait_programs(struct bpf_map *map)
{
	/*
	 * Programs still running may hold the inner map that was just replaced; user space
	 * expects them gone when the command returns (the kernel's maybe_wait_bpf_programs).
	 */
	if (map->inner_map_meta)
		urcu_memb_synchronize_rcu();
}

/* ---- Syscall-side element commands ------------------------------------------------- */

int bpf_map_copy_value(struct bpf_map *map, const void *key, void *value, uint64_t flags)
{
	void *ptr;
	int err;

	/* BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF: no map has one. */
	if (flags)
		return -EINVAL;

	bpf_rcu_thread_online();
	if (map->ops->map_copy_value)
		return map->ops->map_copy_value(map, key, value, flags);

	urcu_memb_read_lock();
	if (map->ops->map_lookup_elem_sys_only)
		ptr = map->ops->map_lookup_elem_sys_only(map, key);
	else
		ptr = map->ops->map_lookup_elem(map, key);
	if (ptr) {
		memcpy(value, ptr, map->value_size);
		err = 0;
	} else {
		err = -ENOENT;
	}
	urcu_memb_read_unlock();
	return err;
}

int bpf_map_update_value(struct bpf_map *map, const void *key, const void *value, uint64_t flags)
{
	int err;

	/* The syscall's own check, before the type's: no map has a bpf_spin_lock. */
	if (flags & BPF_F_LOCK)
		return -EINVAL;

	bpf_rcu_thread_online();
	if (map->ops->map_update_value)
		return map->ops->map_update_value(map, key, value, flags);

	urcu_memb_read_lock();
	err = (int)map->ops->map_update_elem(map, key, value, flags);
	urcu_memb_read_unlock();
	return err;
}

int bpf_map_delete_value(struct bpf_map *map, const void *key)
{
	int err;

	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	err = (int)map->ops->map_delete_elem(map, key);
	urcu_memb_read_unlock();
	return err;
}

int bpf_map_next_key(struct bpf_map *map, const void *key, void *next_key)
{
	int err;

	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	err = map->ops->map_get_next_key(map, key, next_key);
	urcu_memb_read_unlock();
	return err;
}

int bpf_map_lookup_and_delete_value(struct bpf_map *map, const void *key, void *value,
				    uint64_t flags)
{
	int err;

	if (flags & BPF_F_LOCK)
		return -EINVAL;
	if (!map->ops->map_lookup_and_delete_elem)
		return -ENOTSUPP;

	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	err = map->ops->map_lookup_and_delete_elem(map, key, value, flags);
	urcu_memb_read_unlock();
	return err;
}

int bpf_map_do_batch(struct bpf_map *map, int cmd, union bpf_attr *attr,
		     const struct bpf_uaccess *ua)
{
	bpf_map_batch_fn fn;

	switch (cmd) {
	case BPF_MAP_LOOKUP_BATCH:
		fn = map->ops->map_lookup_batch;
		break;
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		fn = map->ops->map_lookup_and_delete_batch;
		break;
	case BPF_MAP_UPDATE_BATCH:
		fn = map->ops->map_update_batch;
		break;
	case BPF_MAP_DELETE_BATCH:
		fn = map->ops->map_delete_batch;
		break;
	default:
		return -EINVAL;
	}
	if (!fn)
		return -ENOTSUPP;
	bpf_rcu_thread_online();
	return fn(map, attr, ua);
}

/* elem_flags of the generic batches: BPF_F_LOCK at most, and it needs a spin lock. */
static int generic_batch_check_flags(uint64_t elem_flags)
{
	return elem_flags ? -EINVAL : 0;
}

int generic_map_delete_batch(struct bpf_map *map, union bpf_attr *attr,
			     const struct bpf_uaccess *ua)
{
	uint32_t cp, max_count;
	int err = 0;
	void *key;

	if (generic_batch_check_flags(attr->batch.elem_flags))
		return -EINVAL;

	max_count = attr->batch.count;
	if (!max_count)
		return 0;
	attr->batch.count = 0;

	key = malloc(map->key_size);
	if (!key)
		return -ENOMEM;

	for (cp = 0; cp < max_count; cp++) {
		err = ua->copy_from_user(ua, key, attr->batch.keys + (uint64_t)cp * map->key_size,
					 map->key_size);
		if (err)
			break;
		err = bpf_map_delete_value(map, key);
		if (err)
			break;
	}
	attr->batch.count = cp;
	free(key);
	return err;
}

int generic_map_update_batch(struct bpf_map *map, union bpf_attr *attr,
			     const struct bpf_uaccess *ua)
{
	uint32_t value_size, cp, max_count;
	void *key, *value;
	int err = 0;

	if (generic_batch_check_flags(attr->batch.elem_flags))
		return -EINVAL;

	value_size = bpf_map_value_size(map);
	max_count = attr->batch.count;
	if (!max_count)
		return 0;
	attr->batch.count = 0;

	key = malloc(map->key_size);
	if (!key)
		return -ENOMEM;
	value = malloc(value_size);
	if (!value) {
		err = -ENOMEM;
		goto out_free_key;
	}

	for (cp = 0; cp < max_count; cp++) {
		err = ua->copy_from_user(ua, key, attr->batch.keys + (uint64_t)cp * map->key_size,
					 map->key_size);
		if (!err)
			err = ua->copy_from_user(ua, value,
						 attr->batch.values + (uint64_t)cp * value_size,
						 value_size);
		if (err)
			break;
		err = bpf_map_update_value(map, key, value, attr->batch.elem_flags);
		if (err)
			break;
	}
	attr->batch.count = cp;
	free(value);
out_free_key:
	free(key);
	return err;
}

int generic_map_lookup_batch(struct bpf_map *map, union bpf_attr *attr,
			     const struct bpf_uaccess *ua)
{
	void *buf, *buf_prevkey, *prev_key, *key, *value, *tmp;
	uint32_t value_size, cp, max_count;
	int err;

	if (generic_batch_check_flags(attr->batch.elem_flags))
		return -EINVAL;

	value_size = bpf_map_value_size(map);
	max_count = attr->batch.count;
	if (!max_count)
		return 0;
	attr->batch.count = 0;

	buf_prevkey = malloc(map->key_size);
	if (!buf_prevkey)
		return -ENOMEM;
	buf = malloc((size_t)map->key_size + value_size);
	if (!buf) {
		err = -ENOMEM;
		goto out_free_prevkey;
	}

	prev_key = NULL;
	if (attr->batch.in_batch) {
		err = ua->copy_from_user(ua, buf_prevkey, attr->batch.in_batch, map->key_size);
		if (err)
			goto out_free_buf;
		prev_key = buf_prevkey;
	}
	key = buf;
	value = (char *)key + map->key_size;

	for (cp = 0; cp < max_count;) {
		err = bpf_map_next_key(map, prev_key, key);
		if (err)
			break;
		err = bpf_map_copy_value(map, key, value, attr->batch.elem_flags);
		if (err && err != -ENOENT) /* -ENOENT: deleted since, skip it */
			goto out_free_buf;
		if (!err) {
			err = ua->copy_to_user(ua, attr->batch.keys + (uint64_t)cp * map->key_size,
					       key, map->key_size);
			if (!err)
				err = ua->copy_to_user(
					ua, attr->batch.values + (uint64_t)cp * value_size, value,
					value_size);
			if (err)
				goto out_free_buf;
			cp++;
		}
		if (!prev_key)
			prev_key = buf_prevkey;
		tmp = prev_key;
		prev_key = key;
		key = tmp;
	}

	if (err == -EFAULT)
		goto out_free_buf;
	attr->batch.count = cp;
	if (cp && ua->copy_to_user(ua, attr->batch.out_batch, prev_key, map->key_size))
		err = -EFAULT;

out_free_buf:
	free(buf);
out_free_prevkey:
	free(buf_prevkey);
	return err;
}

/* ---- mmap --------------------------------------------------------------------------- */

int bpf_map_mmap_segs(struct bpf_map *map, size_t len, int prot, int flags, uint64_t off,
		      struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS])
{
	bool writable = prot & PROT_WRITE;
	int err = 0;

	if (!map->ops->map_mmap_segs)
		return -ENOTSUPP;
	if ((flags & MAP_TYPE) != MAP_SHARED)
		return -EINVAL;
	/* bpf map files are not executable (VM_MAYEXEC is cleared): measured -EPERM. */
	if (prot & PROT_EXEC)
		return -EPERM;
	if (off % BPF_MAP_PAGE_SIZE)
		return -EINVAL;

	pthread_mutex_lock(&map->freeze_mutex);
	if (writable) {
		if (atomic_load(&map->frozen)) {
			err = -EPERM;
			goto out_unlock;
		}
		/* A read-only map must not leak a writable page: the verifier trusts it. */
		if (map->map_flags & BPF_F_RDONLY_PROG) {
			err = -EACCES;
			goto out_unlock;
		}
		bpf_map_write_active_inc(map);
	}
out_unlock:
	pthread_mutex_unlock(&map->freeze_mutex);
	if (err)
		return err;

	err = map->ops->map_mmap_segs(map, len, prot, off / BPF_MAP_PAGE_SIZE, segs);
	if (err < 0 && writable)
		bpf_map_write_active_dec(map);
	return err;
}

/*
 * The view in this process: address space reserved whole, then each piece a second mapping of
 * the shared pages where our own mapping of the file has them (mremap(2) with old_size 0), so
 * that no fd of the memory file is needed here.
 */
int bpf_map_mmap(struct bpf_map *map, void *addr, size_t len, int prot, int flags, uint64_t off,
		 void **out)
{
	struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS];
	char *file = map->ops->map_mmap_file ? map->ops->map_mmap_file(map, NULL) : NULL;
	size_t total = 0, pos = 0;
	int nr = bpf_map_mmap_segs(map, len, prot, flags, off, segs), i, err = 0;
	char *area;
	void *p;

	if (nr < 0)
		return nr;
	for (i = 0; i < nr; i++)
		total += segs[i].len;
	area = mmap(addr, total, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
	if (area == MAP_FAILED) {
		err = -ENOMEM;
		goto err;
	}
	for (i = 0; i < nr && !err; pos += segs[i].len, i++) {
		p = mremap(file + segs[i].file_off, 0, segs[i].len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   area + pos);
		if (p == MAP_FAILED || mprotect(p, segs[i].len, prot))
			err = -errno;
	}
	if (err) {
		munmap(area, total);
		goto err;
	}
	*out = area;
	return 0;

err:
	bpf_map_mmap_close(map, prot & PROT_WRITE);
	return err;
}

void bpf_map_mmap_close(struct bpf_map *map, bool writable)
{
	if (writable)
		bpf_map_write_active_dec(map);
}

int bpf_map_keep_memfd(int memfd)
{
	struct rlimit rl;
	int high = -1;

	/* Below the runtime's anchor and its connection to a host, above what programs use. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur >= 1024)
		high = fcntl(memfd, F_DUPFD_CLOEXEC, 512);
	close(memfd);
	return high < 0 ? -1 : high;
}

/* ---- Programs and fd maps ----------------------------------------------------------- */

bool bpf_map_prog_compatible(struct bpf_map *map, uint32_t prog_type)
{
	bool ret;

	map_lock(&map->owner_lock);
	if (!map->owner_set) {
		map->owner_set = true;
		map->owner_prog_type = prog_type;
		ret = true;
	} else {
		ret = map->owner_prog_type == prog_type;
	}
	map_unlock(&map->owner_lock);
	return ret;
}

bool bpf_map_is_fd_map(const struct bpf_map *map)
{
	return map->ops->map_fd_get_ptr != NULL;
}

int bpf_fd_elem_new(void *ptr, const struct bpf_map_obj_ops *prog_ops, struct bpf_fd_elem **out)
{
	struct bpf_fd_elem *elem = malloc(sizeof(*elem));

	if (!elem)
		return -ENOMEM;
	elem->ptr = ptr;
	elem->prog_ops = prog_ops;
	*out = elem;
	return 0;
}

static void bpf_fd_elem_free(struct bpf_fd_elem *elem)
{
	if (elem->prog_ops)
		elem->prog_ops->prog_put(elem->ptr);
	else
		bpf_map_put(elem->ptr);
	free(elem);
}

static void bpf_fd_elem_free_rcu(struct rcu_head *head)
{
	struct bpf_fd_elem *elem =
		(struct bpf_fd_elem *)((char *)head - offsetof(struct bpf_fd_elem, rcu));
	_Atomic long *pending = elem->rcu_pending;

	bpf_fd_elem_free(elem);
	/* last: the release above may have queued more, counted before this drops */
	if (pending)
		atomic_fetch_sub(pending, 1);
}

void bpf_fd_elem_put(const struct bpf_map_env *env, struct bpf_fd_elem *elem, bool need_defer)
{
	/* A program may be using the object it looked up until the grace period ends. */
	if (need_defer) {
		elem->rcu_pending = env->rcu_pending;
		if (elem->rcu_pending)
			atomic_fetch_add(elem->rcu_pending, 1);
		bpf_rcu_thread_online(); /* call_rcu enters a read-side section */
		urcu_memb_call_rcu(&elem->rcu, bpf_fd_elem_free_rcu);
	} else {
		bpf_fd_elem_free(elem);
	}
}

int bpf_map_of_maps_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			  struct bpf_map **mapp,
			  int (*alloc)(union bpf_attr *attr, const struct bpf_map_env *env,
				       struct bpf_map **mapp))
{
	struct bpf_map *meta;
	int err;

	err = bpf_map_meta_alloc(env, (int)attr->inner_map_fd, &meta);
	if (err)
		return err;
	err = alloc(attr, env, mapp);
	if (err) {
		free(meta);
		return err;
	}
	(*mapp)->inner_map_meta = meta;
	return 0;
}

int bpf_map_meta_alloc(const struct bpf_map_env *env, int inner_map_ufd, struct bpf_map **metap)
{
	struct bpf_map *inner_map, *meta;
	int err;

	if (!env->obj_ops)
		return -EINVAL;
	err = env->obj_ops->map_get(env->obj_ctx, inner_map_ufd, &inner_map);
	if (err)
		return err;

	/* One level of nesting only. */
	if (inner_map->inner_map_meta) {
		err = -EINVAL;
		goto out_put;
	}
	if (!inner_map->ops->map_meta_equal) {
		err = -ENOTSUPP;
		goto out_put;
	}
	meta = calloc(1, sizeof(*meta));
	if (!meta) {
		err = -ENOMEM;
		goto out_put;
	}
	meta->ops = inner_map->ops;
	meta->env = inner_map->env;
	meta->map_type = inner_map->map_type;
	meta->key_size = inner_map->key_size;
	meta->value_size = inner_map->value_size;
	meta->map_flags = inner_map->map_flags;
	meta->max_entries = inner_map->max_entries;
	*metap = meta;
out_put:
	bpf_map_put(inner_map);
	return err;
}

bool bpf_map_meta_equal(const struct bpf_map *meta0, const struct bpf_map *meta1)
{
	/* No need to compare ops: the type decides them. */
	return meta0->map_type == meta1->map_type && meta0->key_size == meta1->key_size &&
	       meta0->value_size == meta1->value_size && meta0->map_flags == meta1->map_flags;
}

int bpf_map_fd_get_ptr(struct bpf_map *map, int ufd, void **ptr)
{
	const struct bpf_map_env *env = map->env;
	struct bpf_map *inner_map, *meta = map->inner_map_meta;
	struct bpf_fd_elem *elem;
	int err;

	err = env->obj_ops->map_get(env->obj_ctx, ufd, &inner_map);
	if (err)
		return err;
	if (!meta->ops->map_meta_equal(meta, inner_map)) {
		err = -EINVAL;
		goto err_put;
	}
	err = bpf_fd_elem_new(inner_map, NULL, &elem);
	if (err)
		goto err_put;
	*ptr = elem;
	return 0;

err_put:
	bpf_map_put(inner_map);
	return err;
}

void bpf_map_fd_put_ptr(struct bpf_map *map, void *ptr, bool need_defer)
{
	bpf_fd_elem_put(map->env, ptr, need_defer);
}

uint32_t bpf_map_fd_sys_lookup_elem(void *ptr)
{
	struct bpf_fd_elem *elem = ptr;

	return ((struct bpf_map *)elem->ptr)->id;
}
