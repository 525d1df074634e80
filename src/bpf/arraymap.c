// SPDX-License-Identifier: MIT
/*
 * arraymap.c - array maps: ARRAY, PERCPU_ARRAY, and the fd arrays PROG_ARRAY and
 * ARRAY_OF_MAPS (kernel/bpf/arraymap.c).
 *
 * Every element exists from creation: the key is an index below max_entries, lookups
 * never fail inside the bounds, updates copy in place and deletes are -EINVAL. Values are
 * round_up(value_size, 8) bytes apart; a per-CPU array keeps each index's CPU values next
 * to each other, so the syscall side copies one contiguous block. An ARRAY created with
 * BPF_F_MMAPABLE lives in a memfd's pages, so that user space can map it (libbpf does, for
 * global variables; the map keeps the mapping, not the fd). fd arrays hold struct
 * bpf_fd_elem pointers, swapped atomically; the old element is released after an RCU grace
 * period. Nothing here allocates on the data path.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map.h"

#define ARRAY_CREATE_FLAG_MASK                                                                     \
	(BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS |             \
	 BPF_F_INNER_MAP)

struct bpf_array {
	struct bpf_map map;
	uint32_t elem_size; /* round_up(value_size, 8) */
	bool mmapable;	    /* `value` is a shared mapping (BPF_F_MMAPABLE), else malloc'ed */
	int memfd;	    /* mmapable: the file of `value` (bpf_map_keep_memfd), or -1 */
	size_t value_area;  /* bytes at `value` (page aligned when mmapable) */
	union {
		/* ARRAY: max_entries values; PERCPU_ARRAY: max_entries × nr_cpus values. */
		char *value;
		/* fd arrays: one element (or NULL) per index, replaced with an atomic exchange. */
		_Atomic(struct bpf_fd_elem *) *ptrs;
	};
};

static struct bpf_array *to_array(const struct bpf_map *map)
{
	return (struct bpf_array *)map; /* struct bpf_map is the first member */
}

static bool array_is_percpu(const struct bpf_map *map)
{
	return map->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static void *array_elem(struct bpf_array *array, uint32_t index)
{
	return array->value + (uint64_t)array->elem_size * index;
}

static void *percpu_array_elem(struct bpf_array *array, uint32_t index, uint32_t cpu)
{
	return array->value + ((uint64_t)index * array->map.env->nr_cpus + cpu) * array->elem_size;
}

/* ---- Creation ------------------------------------------------------------------------ */

static int array_map_alloc_check(union bpf_attr *attr)
{
	bool percpu = attr->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
	int numa_node = bpf_map_attr_numa_node(attr);

	if (attr->max_entries == 0 || attr->key_size != 4 || attr->value_size == 0 ||
	    attr->map_flags & ~ARRAY_CREATE_FLAG_MASK ||
	    !bpf_map_flags_access_ok(attr->map_flags) || (percpu && numa_node != -1))
		return -EINVAL;

	if (attr->map_type != BPF_MAP_TYPE_ARRAY &&
	    attr->map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP))
		return -EINVAL;

	/* PRESERVE_ELEMS belongs to PERF_EVENT_ARRAY, which nsbpf does not have. */
	if (attr->map_flags & BPF_F_PRESERVE_ELEMS)
		return -EINVAL;

	/* avoid overflow on round_up(value_size) */
	if (attr->value_size > INT_MAX)
		return -E2BIG;
	if (percpu && attr->value_size > BPF_MAP_PCPU_MIN_UNIT)
		return -E2BIG;
	return 0;
}

/* Values of an mmapable array: pages of a memfd, shared, so user space can map them too. */
static int array_alloc_mmapable(struct bpf_array *array, uint64_t size)
{
	void *area = MAP_FAILED;
	int fd;

	size = BPF_MAP_ROUND_UP(size, BPF_MAP_PAGE_SIZE);
	if (size > SIZE_MAX / 2)
		return -ENOMEM;
	fd = memfd_create("bpf-map", MFD_CLOEXEC);
	if (fd < 0)
		return -ENOMEM;
	if (ftruncate(fd, (off_t)size) == 0)
		area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (area == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	/* The mapping keeps the pages; the file is for views in other processes. */
	array->memfd = bpf_map_keep_memfd(fd);
	array->mmapable = true;
	array->value = area;
	array->value_area = size;
	return 0;
}

static int array_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			   struct bpf_map **mapp)
{
	bool percpu = attr->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
	uint32_t elem_size = BPF_MAP_ROUND_UP(attr->value_size, 8);
	struct bpf_array *array;
	uint64_t nr_values;
	int err;

	/*
	 * The kernel rounds max_entries up to a power of two against speculation unless the
	 * creator may bypass Spectre v1 mitigations; the runtime's caller is root, which may.
	 */
	array = calloc(1, sizeof(*array));
	if (!array)
		return -ENOMEM;
	bpf_map_init_from_attr(&array->map, attr, env);
	array->elem_size = elem_size;

	nr_values = (uint64_t)attr->max_entries * (percpu ? env->nr_cpus : 1);
	if (attr->map_flags & BPF_F_MMAPABLE) {
		err = array_alloc_mmapable(array, nr_values * elem_size);
		if (err)
			goto err_free_array;
	} else {
		array->value_area = nr_values * elem_size;
		array->value = calloc(nr_values, elem_size);
		if (!array->value) {
			err = -ENOMEM;
			goto err_free_array;
		}
	}
	*mapp = &array->map;
	return 0;

err_free_array:
	free(array);
	return err;
}

static void array_map_free(struct bpf_map *map)
{
	struct bpf_array *array = to_array(map);

	if (array->mmapable) {
		munmap(array->value, array->value_area);
		if (array->memfd >= 0)
			close(array->memfd);
	} else
		free(array->value);
	free(array);
}

static bool array_map_meta_equal(const struct bpf_map *meta0, const struct bpf_map *meta1)
{
	if (!bpf_map_meta_equal(meta0, meta1))
		return false;
	/* BPF_F_INNER_MAP: inner arrays of any size may take this one's place. */
	return meta0->map_flags & BPF_F_INNER_MAP ? true : meta0->max_entries == meta1->max_entries;
}

/* sizeof(struct bpf_array) in the kernel we measured (6.18, x86-64): memlock counts it. */
#define KERNEL_BPF_ARRAY_SIZE 312u

/* The kernel's array_map_mem_usage, to the byte (fdinfo "memlock", measured on 6.18). */
static uint64_t array_map_mem_usage(const struct bpf_map *map)
{
	uint64_t entries = map->max_entries, elem_size = to_array(map)->elem_size;
	uint64_t usage = KERNEL_BPF_ARRAY_SIZE;

	if (array_is_percpu(map))
		return usage + entries * sizeof(void *) + entries * elem_size * map->env->nr_cpus;
	if (map->map_flags & BPF_F_MMAPABLE)
		return BPF_MAP_ROUND_UP(usage, BPF_MAP_PAGE_SIZE) +
		       BPF_MAP_ROUND_UP(entries * elem_size, BPF_MAP_PAGE_SIZE);
	return usage + entries * elem_size;
}

/* ---- Elements ------------------------------------------------------------------------ */

static void *array_map_lookup_elem(struct bpf_map *map, const void *key)
{
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return NULL;
	return array_elem(to_array(map), index);
}

static void *percpu_array_map_lookup_elem(struct bpf_map *map, const void *key)
{
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return NULL;
	return percpu_array_elem(to_array(map), index, bpf_map_this_cpu(map));
}

static void *percpu_array_map_lookup_percpu_elem(struct bpf_map *map, const void *key, uint32_t cpu)
{
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	if (cpu >= map->env->nr_cpus || index >= map->max_entries)
		return NULL;
	return percpu_array_elem(to_array(map), index, cpu);
}

/* The syscall side of PERCPU_ARRAY: every CPU's rounded value (bpf_percpu_array_copy). */
static int percpu_array_map_copy_value(struct bpf_map *map, const void *key, void *value,
				       uint64_t flags)
{
	struct bpf_array *array = to_array(map);
	uint32_t index;

	(void)flags;
	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return -ENOENT;
	/* per-CPU values are zero-filled at creation: the rounded bytes leak nothing. */
	memcpy(value, percpu_array_elem(array, index, 0), bpf_map_percpu_value_size(map));
	return 0;
}

static int array_map_get_next_key(struct bpf_map *map, const void *key, void *next_key)
{
	uint32_t index = UINT32_MAX, next;

	if (key)
		memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries) {
		next = 0;
		goto out;
	}
	if (index == map->max_entries - 1)
		return -ENOENT;
	next = index + 1;
out:
	memcpy(next_key, &next, sizeof(next));
	return 0;
}

/* From programs, and from the syscall for ARRAY: copies value_size bytes in place. */
static long array_map_update_elem(struct bpf_map *map, const void *key, const void *value,
				  uint64_t map_flags)
{
	struct bpf_array *array = to_array(map);
	uint32_t index;
	void *val;

	if ((map_flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL; /* unknown flags */
	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return -E2BIG; /* all elements were pre-allocated, cannot insert a new one */
	if (map_flags & BPF_NOEXIST)
		return -EEXIST; /* all elements already exist */
	if (map_flags & BPF_F_LOCK)
		return -EINVAL; /* no bpf_spin_lock without BTF */

	if (array_is_percpu(map))
		val = percpu_array_elem(array, index, bpf_map_this_cpu(map));
	else
		val = array_elem(array, index);
	memcpy(val, value, map->value_size);
	return 0;
}

/* The syscall side of PERCPU_ARRAY: one rounded value per CPU (bpf_percpu_array_update). */
static int percpu_array_map_update_value(struct bpf_map *map, const void *key, const void *value,
					 uint64_t map_flags)
{
	struct bpf_array *array = to_array(map);
	uint32_t index;

	if (map_flags > BPF_EXIST)
		return -EINVAL;
	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return -E2BIG;
	if (map_flags == BPF_NOEXIST)
		return -EEXIST;
	memcpy(percpu_array_elem(array, index, 0), value, bpf_map_percpu_value_size(map));
	return 0;
}

static long array_map_delete_elem(struct bpf_map *map, const void *key)
{
	(void)map, (void)key;
	return -EINVAL;
}

static int array_map_direct_value_addr(const struct bpf_map *map, uint64_t *imm, uint32_t off)
{
	if (map->max_entries != 1)
		return -ENOTSUPP;
	if (off >= map->value_size)
		return -EINVAL;
	*imm = (uintptr_t)to_array(map)->value;
	return 0;
}

static int array_map_mmap_segs(struct bpf_map *map, size_t len, int prot, uint64_t pgoff,
			       struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS])
{
	struct bpf_array *array = to_array(map);

	(void)prot;
	if (!(map->map_flags & BPF_F_MMAPABLE))
		return -EINVAL;
	if (len == 0 || pgoff * BPF_MAP_PAGE_SIZE + len > array->value_area)
		return -EINVAL;
	segs[0].file_off = pgoff * BPF_MAP_PAGE_SIZE;
	segs[0].len = BPF_MAP_ROUND_UP(len, BPF_MAP_PAGE_SIZE);
	return 1;
}

static char *array_map_mmap_file(const struct bpf_map *map, int *memfd)
{
	const struct bpf_array *array = to_array(map);

	if (memfd)
		*memfd = array->mmapable ? array->memfd : -1;
	return array->mmapable ? array->value : NULL;
}

/* sha256.c */
void sha256(const void *data, size_t len, uint8_t digest[32]);

/* array_map_get_hash: every element with its padding, elem_size × max_entries bytes. */
static int array_map_get_hash(struct bpf_map *map, uint32_t size, void *hash)
{
	struct bpf_array *array = to_array(map);

	if (size != 32)
		return -EINVAL;
	sha256(array->value, (size_t)array->elem_size * map->max_entries, hash);
	return 0;
}

const struct bpf_map_ops array_map_ops = {
	.map_alloc_check = array_map_alloc_check,
	.map_alloc = array_map_alloc,
	.map_free = array_map_free,
	.map_meta_equal = array_map_meta_equal,
	.map_get_hash = array_map_get_hash,
	.map_mem_usage = array_map_mem_usage,
	.map_lookup_elem = array_map_lookup_elem,
	.map_update_elem = array_map_update_elem,
	.map_delete_elem = array_map_delete_elem,
	.map_get_next_key = array_map_get_next_key,
	.map_lookup_batch = generic_map_lookup_batch,
	.map_update_batch = generic_map_update_batch,
	.map_direct_value_addr = array_map_direct_value_addr,
	.map_mmap_segs = array_map_mmap_segs,
	.map_mmap_file = array_map_mmap_file,
};

const struct bpf_map_ops percpu_array_map_ops = {
	.map_alloc_check = array_map_alloc_check,
	.map_alloc = array_map_alloc,
	.map_free = array_map_free,
	.map_meta_equal = bpf_map_meta_equal,
	.map_mem_usage = array_map_mem_usage,
	.map_sys_value_size = bpf_map_percpu_value_size,
	.map_lookup_elem = percpu_array_map_lookup_elem,
	.map_update_elem = array_map_update_elem,
	.map_delete_elem = array_map_delete_elem,
	.map_lookup_percpu_elem = percpu_array_map_lookup_percpu_elem,
	.map_get_next_key = array_map_get_next_key,
	.map_copy_value = percpu_array_map_copy_value,
	.map_update_value = percpu_array_map_update_value,
	.map_lookup_batch = generic_map_lookup_batch,
	.map_update_batch = generic_map_update_batch,
};

/* ---- fd arrays --------------------------------------------------------------------- */

static int fd_array_map_alloc_check(union bpf_attr *attr)
{
	/* only file descriptors can be stored in this type of map */
	if (attr->value_size != sizeof(uint32_t))
		return -EINVAL;
	/* Program read-only/write-only not supported for special maps yet. */
	if (attr->map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG))
		return -EINVAL;
	return array_map_alloc_check(attr);
}

static int fd_array_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			      struct bpf_map **mapp)
{
	struct bpf_array *array;

	if (!env->obj_ops)
		return -EINVAL;
	array = calloc(1, sizeof(*array));
	if (!array)
		return -ENOMEM;
	bpf_map_init_from_attr(&array->map, attr, env);
	array->elem_size = BPF_MAP_ROUND_UP(attr->value_size, 8);
	array->value_area = (uint64_t)attr->max_entries * sizeof(*array->ptrs);
	array->ptrs = calloc(attr->max_entries, sizeof(*array->ptrs));
	if (!array->ptrs) {
		free(array);
		return -ENOMEM;
	}
	*mapp = &array->map;
	return 0;
}

static long fd_array_delete(struct bpf_map *map, uint32_t index, bool need_defer)
{
	struct bpf_fd_elem *old;

	if (index >= map->max_entries)
		return -E2BIG;
	old = atomic_exchange(&to_array(map)->ptrs[index], NULL);
	if (!old)
		return -ENOENT;
	map->ops->map_fd_put_ptr(map, old, need_defer);
	return 0;
}

static long fd_array_map_delete_elem(struct bpf_map *map, const void *key)
{
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	return fd_array_delete(map, index, true);
}

/* Drops every element (bpf_fd_array_map_clear). */
static void fd_array_map_clear(struct bpf_map *map, bool need_defer)
{
	for (uint32_t i = 0; i < map->max_entries; i++)
		fd_array_delete(map, i, need_defer);
}

static void fd_array_map_free(struct bpf_map *map)
{
	struct bpf_array *array = to_array(map);

	/* No program can run any more: nothing needs a grace period. */
	fd_array_map_clear(map, false);
	free(array->ptrs);
	free(array);
}

/* Programs never read fd arrays' values; the verifier forbids it (-EOPNOTSUPP). */
static void *fd_array_map_lookup_elem(struct bpf_map *map, const void *key)
{
	(void)map, (void)key;
	return NULL;
}

/* Syscall lookup: the id of the object held (bpf_fd_array_map_lookup_elem). */
static int fd_array_map_copy_value(struct bpf_map *map, const void *key, void *value,
				   uint64_t flags)
{
	struct bpf_fd_elem *elem;
	uint32_t index, id;
	int err = 0;

	(void)flags;
	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return -ENOENT;
	urcu_memb_read_lock();
	elem = atomic_load(&to_array(map)->ptrs[index]);
	if (elem) {
		id = map->ops->map_fd_sys_lookup_elem(elem);
		memcpy(value, &id, sizeof(id));
	} else {
		err = -ENOENT;
	}
	urcu_memb_read_unlock();
	return err;
}

/* Syscall update: the value is an fd (bpf_fd_array_map_update_elem). */
static int fd_array_map_update_value(struct bpf_map *map, const void *key, const void *value,
				     uint64_t map_flags)
{
	struct bpf_fd_elem *new_elem, *old_elem;
	uint32_t index, ufd;
	void *ptr;
	int err;

	if (map_flags != BPF_ANY)
		return -EINVAL;
	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return -E2BIG;
	memcpy(&ufd, value, sizeof(ufd));
	err = map->ops->map_fd_get_ptr(map, (int)ufd, &ptr);
	if (err)
		return err;
	new_elem = ptr;
	old_elem = atomic_exchange(&to_array(map)->ptrs[index], new_elem);
	if (old_elem)
		map->ops->map_fd_put_ptr(map, old_elem, true);
	return 0;
}

/* Programs cannot write fd arrays (the verifier's check_map_func_compatibility). */
static long fd_array_map_update_elem(struct bpf_map *map, const void *key, const void *value,
				     uint64_t flags)
{
	(void)map, (void)key, (void)value, (void)flags;
	return -EINVAL;
}

static int prog_fd_array_get_ptr(struct bpf_map *map, int ufd, void **ptr)
{
	const struct bpf_map_obj_ops *obj = map->env->obj_ops;
	struct bpf_fd_elem *elem;
	void *prog;
	int err;

	err = obj->prog_get(map->env->obj_ctx, ufd, &prog);
	if (err)
		return err;
	if (!bpf_map_prog_compatible(map, obj->prog_type(prog))) {
		err = -EINVAL;
		goto err_put;
	}
	err = bpf_fd_elem_new(prog, obj, &elem);
	if (err)
		goto err_put;
	*ptr = elem;
	return 0;

err_put:
	obj->prog_put(prog);
	return err;
}

static void prog_fd_array_put_ptr(struct bpf_map *map, void *ptr, bool need_defer)
{
	bpf_fd_elem_put(map->env, ptr, need_defer);
}

static uint32_t prog_fd_array_sys_lookup_elem(void *ptr)
{
	struct bpf_fd_elem *elem = ptr;

	return elem->prog_ops->prog_id(elem->ptr);
}

/*
 * The last fd or pin of a PROG_ARRAY is gone: drop its programs, which breaks the
 * reference cycle a program tail-calling through its own array would otherwise keep.
 */
static void prog_array_map_clear(struct bpf_map *map)
{
	fd_array_map_clear(map, true);
}

void *bpf_prog_array_map_lookup(struct bpf_map *map, uint32_t index)
{
	struct bpf_fd_elem *elem;

	if (map->map_type != BPF_MAP_TYPE_PROG_ARRAY || index >= map->max_entries)
		return NULL;
	elem = atomic_load_explicit(&to_array(map)->ptrs[index], memory_order_acquire);
	return elem ? elem->ptr : NULL;
}

const struct bpf_map_ops prog_array_map_ops = {
	.map_alloc_check = fd_array_map_alloc_check,
	.map_alloc = fd_array_map_alloc,
	.map_free = fd_array_map_free,
	.map_release_uref = prog_array_map_clear,
	.map_mem_usage = array_map_mem_usage,
	.map_sys_value_size = bpf_map_fd_value_size,
	.map_lookup_elem = fd_array_map_lookup_elem,
	.map_update_elem = fd_array_map_update_elem,
	.map_delete_elem = fd_array_map_delete_elem,
	.map_get_next_key = array_map_get_next_key,
	.map_copy_value = fd_array_map_copy_value,
	.map_update_value = fd_array_map_update_value,
	.map_fd_get_ptr = prog_fd_array_get_ptr,
	.map_fd_put_ptr = prog_fd_array_put_ptr,
	.map_fd_sys_lookup_elem = prog_fd_array_sys_lookup_elem,
};

static int array_of_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			      struct bpf_map **mapp)
{
	return bpf_map_of_maps_alloc(attr, env, mapp, fd_array_map_alloc);
}

/* Programs get the inner map itself, to pass to the next lookup. */
static void *array_of_map_lookup_elem(struct bpf_map *map, const void *key)
{
	struct bpf_fd_elem *elem;
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	if (index >= map->max_entries)
		return NULL;
	elem = atomic_load_explicit(&to_array(map)->ptrs[index], memory_order_acquire);
	return elem ? elem->ptr : NULL;
}

const struct bpf_map_ops array_of_maps_map_ops = {
	.map_alloc_check = fd_array_map_alloc_check,
	.map_alloc = array_of_map_alloc,
	.map_free = fd_array_map_free,
	.map_mem_usage = array_map_mem_usage,
	.map_sys_value_size = bpf_map_fd_value_size,
	.map_lookup_elem = array_of_map_lookup_elem,
	.map_update_elem = fd_array_map_update_elem,
	.map_delete_elem = fd_array_map_delete_elem,
	.map_get_next_key = array_map_get_next_key,
	.map_copy_value = fd_array_map_copy_value,
	.map_update_value = fd_array_map_update_value,
	.map_fd_get_ptr = bpf_map_fd_get_ptr,
	.map_fd_put_ptr = bpf_map_fd_put_ptr,
	.map_fd_sys_lookup_elem = bpf_map_fd_sys_lookup_elem,
	.map_lookup_batch = generic_map_lookup_batch,
	.map_update_batch = generic_map_update_batch,
};
