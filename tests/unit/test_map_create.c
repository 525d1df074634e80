// SPDX-License-Identifier: MIT
/*
 * test_map_create.c - BPF_MAP_CREATE below the syscall layer (bpf_map_alloc): every row of
 * the table is one attribute set and the errno Linux 6.18 answers for it, measured with
 * bpf(BPF_MAP_CREATE) on the live kernel unless the row names the kernel function read.
 * Rows that only the syscall layer decides (CHECK_ATTR, BTF, capabilities) are not here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/map.h"

/* A fake fd table standing for the syscall layer: the objects inner_map_fd may name. */
enum { FD_NONE, FD_MAP, FD_OTHER };
static struct {
	int kind;
	struct bpf_map *map;
} fds[16];

static int test_map_get(void *ctx, int ufd, struct bpf_map **map)
{
	(void)ctx;
	if (ufd < 0 || ufd >= 16 || fds[ufd].kind == FD_NONE)
		return -EBADF;
	if (fds[ufd].kind != FD_MAP)
		return -EINVAL;
	bpf_map_inc(fds[ufd].map);
	*map = fds[ufd].map;
	return 0;
}

static const struct bpf_map_obj_ops obj_ops = { .map_get = test_map_get };
static const struct bpf_map_env env = { .nr_cpus = 2, .obj_ops = &obj_ops };

/* fds the table refers to, set up once */
#define FD_STDIN      0 /* open, not a map */
#define FD_ARRAY      3 /* ARRAY 4/4/1 */
#define FD_PROG_ARRAY 4
#define FD_RINGBUF    5
#define FD_AOM	      6 /* ARRAY_OF_MAPS over FD_ARRAY */
#define FD_CLOSED     9

struct create_case {
	uint32_t type, key_size, value_size, max_entries, flags;
	int inner_fd;
	uint64_t map_extra;
	uint32_t numa_node;
	const char *name;
	int err;
};

#define C(t, k, v, m, f, e)                                                                        \
	{                                                                                          \
		.type = BPF_MAP_TYPE_##t, .key_size = k, .value_size = v, .max_entries = m,        \
		.flags = f, .err = e                                                               \
	}
#define CI(t, k, v, m, f, in, e)                                                                   \
	{                                                                                          \
		.type = BPF_MAP_TYPE_##t, .key_size = k, .value_size = v, .max_entries = m,        \
		.flags = f, .inner_fd = in, .err = e                                               \
	}

static const struct create_case cases[] = {
	/* htab_map_alloc_check, measured on 6.18 */
	C(HASH, 0, 4, 1, 0, -EINVAL),
	C(HASH, 4, 0, 1, 0, -EINVAL),
	C(HASH, 4, 4, 0, 0, -EINVAL),
	C(HASH, 513, 4, 1, 0, 0), /* no MAX_BPF_STACK limit on keys any more */
	/* key + value >= KMALLOC_MAX_SIZE (4 MiB) - sizeof(struct htab_elem) (48) */
	C(HASH, 4, (1 << 22) - 48 - 4 - 1, 1, BPF_F_NO_PREALLOC, 0),
	C(HASH, 4, (1 << 22) - 48 - 4, 1, BPF_F_NO_PREALLOC, -E2BIG),
	C(HASH, 4, 4, 0x80000001u, BPF_F_NO_PREALLOC, -E2BIG),
	C(HASH, 4, 4, 0x80000000u, BPF_F_NO_PREALLOC, -E2BIG), /* n_buckets * 16 > U32_MAX */
	C(PERCPU_HASH, 4, 32768, 1, 0, 0),
	C(PERCPU_HASH, 4, 32769, 1, 0, -E2BIG), /* round_up(value, 8) > PCPU_MIN_UNIT_SIZE */
	C(HASH, 4, 4, 1, BPF_F_MMAPABLE, -EINVAL),
	C(HASH, 4, 4, 1, BPF_F_NO_COMMON_LRU, -EINVAL),
	C(HASH, 4, 4, 1, BPF_F_INNER_MAP, -EINVAL),
	C(LRU_HASH, 4, 4, 1, BPF_F_NO_PREALLOC, -ENOTSUPP),
	C(LRU_HASH, 4, 4, 1, BPF_F_NO_COMMON_LRU, 0),
	C(LRU_PERCPU_HASH, 4, 4, 1, BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE, -EINVAL),
	C(PERCPU_HASH, 4, 4, 1, BPF_F_NUMA_NODE, -EINVAL),
	C(HASH, 4, 4, 1, BPF_F_NUMA_NODE, 0), /* node 0 */
	C(HASH, 4, 4, 1, BPF_F_RDONLY_PROG, 0),
	C(HASH, 4, 4, 1, BPF_F_ZERO_SEED, 0),
	C(HASH, 4, 4, 1, 1u << 20, -EINVAL),
	C(HASH, 4, 4, 1, 1u << 16, -EINVAL),
	/* map_create: file flags, then the type */
	C(HASH, 4, 4, 1, BPF_F_RDONLY | BPF_F_WRONLY, -EINVAL),
	C(HASH, 4, 4, 1, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, -EINVAL),
	{ .type = 100, .key_size = 4, .value_size = 4, .max_entries = 1, .err = -EINVAL },
	{ .type = 0, .key_size = 4, .value_size = 4, .max_entries = 1, .err = -EINVAL },
	/* map_extra is for bloom filters and arenas only */
	{ .type = BPF_MAP_TYPE_HASH,
	  .key_size = 4,
	  .value_size = 4,
	  .max_entries = 1,
	  .map_extra = 1,
	  .err = -EINVAL },
	/* one NUMA node: node 1 is offline (measured), numa_node is ignored without the flag */
	{ .type = BPF_MAP_TYPE_HASH,
	  .key_size = 4,
	  .value_size = 4,
	  .max_entries = 1,
	  .flags = BPF_F_NUMA_NODE,
	  .numa_node = 1,
	  .err = -EINVAL },
	{ .type = BPF_MAP_TYPE_HASH,
	  .key_size = 4,
	  .value_size = 4,
	  .max_entries = 1,
	  .numa_node = 1,
	  .err = 0 },
	/* bpf_obj_name_cpy: alnum, '_' and '.', NUL within 16 bytes */
	{ .type = BPF_MAP_TYPE_HASH,
	  .key_size = 4,
	  .value_size = 4,
	  .max_entries = 1,
	  .name = "bad-name",
	  .err = -EINVAL },
	{ .type = BPF_MAP_TYPE_HASH,
	  .key_size = 4,
	  .value_size = 4,
	  .max_entries = 1,
	  .name = "good.name_1",
	  .err = 0 },
	{ .type = BPF_MAP_TYPE_HASH,
	  .key_size = 4,
	  .value_size = 4,
	  .max_entries = 1,
	  .name = "0123456789abcdef",
	  .err = -EINVAL },

	/* array_map_alloc_check, measured on 6.18 */
	C(ARRAY, 8, 4, 1, 0, -EINVAL),
	C(ARRAY, 4, 0, 1, 0, -EINVAL),
	C(ARRAY, 4, 4, 0, 0, -EINVAL),
	C(ARRAY, 4, 0x80000000u, 1, 0, -E2BIG), /* value_size > INT_MAX */
	C(ARRAY, 4, 4, 1, BPF_F_NO_PREALLOC, -EINVAL),
	C(ARRAY, 4, 4, 1, BPF_F_ZERO_SEED, -EINVAL),
	C(ARRAY, 4, 4, 1, BPF_F_MMAPABLE, 0),
	C(ARRAY, 4, 4, 1, BPF_F_INNER_MAP, 0),
	C(ARRAY, 4, 4, 1, BPF_F_PRESERVE_ELEMS, -EINVAL),
	C(PERCPU_ARRAY, 4, 4, 1, BPF_F_MMAPABLE, -EINVAL),
	C(PERCPU_ARRAY, 4, 4, 1, BPF_F_NUMA_NODE, -EINVAL),
	C(PERCPU_ARRAY, 4, 32768, 1, 0, 0),
	C(PERCPU_ARRAY, 4, 32769, 1, 0, -E2BIG),
	/* fd_array_map_alloc_check */
	C(PROG_ARRAY, 4, 8, 1, 0, -EINVAL),
	C(PROG_ARRAY, 4, 4, 1, BPF_F_RDONLY_PROG, -EINVAL),
	C(PROG_ARRAY, 4, 4, 1, BPF_F_MMAPABLE, -EINVAL),
	C(PROG_ARRAY, 8, 4, 1, 0, -EINVAL),
	C(PROG_ARRAY, 4, 4, 1, BPF_F_RDONLY, 0), /* RDONLY is the fd's */
	/* map-in-map: the checks, then bpf_map_meta_alloc(inner_map_fd) */
	CI(ARRAY_OF_MAPS, 4, 8, 1, 0, FD_CLOSED, -EINVAL),
	CI(ARRAY_OF_MAPS, 4, 4, 1, 0, FD_CLOSED, -EBADF),
	CI(ARRAY_OF_MAPS, 4, 4, 1, 0, FD_STDIN, -EINVAL),
	CI(ARRAY_OF_MAPS, 4, 4, 1, 0, FD_AOM, -EINVAL),		 /* no nesting */
	CI(ARRAY_OF_MAPS, 4, 4, 1, 0, FD_PROG_ARRAY, -ENOTSUPP), /* no map_meta_equal */
	CI(ARRAY_OF_MAPS, 4, 4, 1, 0, FD_RINGBUF, 0),
	CI(ARRAY_OF_MAPS, 4, 4, 1, BPF_F_RDONLY_PROG, FD_ARRAY, -EINVAL),
	CI(HASH_OF_MAPS, 4, 4, 1, 0, FD_RINGBUF, 0),
	CI(HASH_OF_MAPS, 4, 8, 1, 0, FD_ARRAY, -EINVAL),
	CI(HASH_OF_MAPS, 4, 4, 1, BPF_F_NO_PREALLOC, FD_ARRAY, 0),
	CI(HASH_OF_MAPS, 4, 4, 1, 0, FD_STDIN, -EINVAL),
	CI(HASH_OF_MAPS, 4, 4, 1, BPF_F_RDONLY_PROG, FD_ARRAY, 0),
	CI(ARRAY, 4, 4, 1, 0, FD_ARRAY, 0), /* inner_map_fd is ignored elsewhere */
	/* ringbuf_map_alloc, measured on 6.18 */
	C(RINGBUF, 0, 0, 4096, 0, 0),
	C(RINGBUF, 4, 0, 4096, 0, -EINVAL),
	C(RINGBUF, 0, 4, 4096, 0, -EINVAL),
	C(RINGBUF, 0, 0, 4095, 0, -EINVAL),
	C(RINGBUF, 0, 0, 2048, 0, -EINVAL),  /* not page aligned */
	C(RINGBUF, 0, 0, 24576, 0, -EINVAL), /* not a power of 2 */
	C(RINGBUF, 0, 0, 0, 0, -EINVAL),
	C(RINGBUF, 0, 0, 4096, BPF_F_NUMA_NODE, 0),
	C(RINGBUF, 0, 0, 4096, BPF_F_RDONLY_PROG, -EINVAL),
	C(RINGBUF, 0, 0, 4096, BPF_F_RDONLY, -EINVAL),
};

static struct bpf_map *create(const struct create_case *c, int *err)
{
	union bpf_attr attr;
	struct bpf_map *map = NULL;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = c->type;
	attr.key_size = c->key_size;
	attr.value_size = c->value_size;
	attr.max_entries = c->max_entries;
	attr.map_flags = c->flags;
	attr.inner_map_fd = (uint32_t)c->inner_fd;
	attr.map_extra = c->map_extra;
	attr.numa_node = c->numa_node;
	if (c->name)
		/* names of exactly 16 bytes (no NUL) are part of what is tested */
		memcpy(attr.map_name, c->name, strnlen(c->name, sizeof(attr.map_name)));
	*err = bpf_map_alloc(&attr, &env, &map);
	return map;
}

static struct bpf_map *must_create(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, int inner)
{
	struct create_case c = { .type = type,
				 .key_size = ks,
				 .value_size = vs,
				 .max_entries = max,
				 .inner_fd = inner };
	struct bpf_map *map;
	int err;

	map = create(&c, &err);
	assert_int_equal(err, 0);
	return map;
}

static int setup(void **state)
{
	(void)state;
	fds[FD_STDIN].kind = FD_OTHER;
	fds[FD_ARRAY].kind = FD_MAP;
	fds[FD_ARRAY].map = must_create(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	fds[FD_PROG_ARRAY].kind = FD_MAP;
	fds[FD_PROG_ARRAY].map = must_create(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	fds[FD_RINGBUF].kind = FD_MAP;
	fds[FD_RINGBUF].map = must_create(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	fds[FD_AOM].kind = FD_MAP;
	fds[FD_AOM].map = must_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, FD_ARRAY);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 16; i++)
		if (fds[i].kind == FD_MAP)
			bpf_map_put_with_uref(fds[i].map);
	memset(fds, 0, sizeof(fds));
	urcu_memb_barrier();
	return 0;
}

static void test_create_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct create_case *c = &cases[i];
		struct bpf_map *map;
		int err;

		map = create(c, &err);
		if (err != c->err)
			fail_msg("case %zu: type %u key %u value %u max %u flags %#x: got %d, want "
				 "%d",
				 i, c->type, c->key_size, c->value_size, c->max_entries, c->flags,
				 err, c->err);
		if (!err)
			bpf_map_put_with_uref(map);
	}
}

/* What a created map keeps: RDONLY/WRONLY belong to the fd (bpf_map_flags_retain_permanent). */
static void test_create_attributes(void **state)
{
	struct create_case c = C(HASH, 8, 16, 100, BPF_F_RDONLY | BPF_F_NO_PREALLOC, 0);
	struct bpf_map *map;
	int err;

	(void)state;
	c.name = "my_map";
	map = create(&c, &err);
	assert_int_equal(err, 0);
	assert_int_equal(map->map_type, BPF_MAP_TYPE_HASH);
	assert_int_equal(map->key_size, 8);
	assert_int_equal(map->value_size, 16);
	assert_int_equal(map->max_entries, 100);
	assert_int_equal(map->map_flags, BPF_F_NO_PREALLOC);
	assert_int_equal(map->numa_node, -1);
	assert_string_equal(map->name, "my_map");
	assert_string_equal(bpf_map_type_name(map->map_type), "hash");
	assert_int_equal(bpf_map_value_size(map), 16);
	assert_true(bpf_map_mem_usage(map) > 0);
	bpf_map_put_with_uref(map);

	/* BPF_F_NO_COMMON_LRU rounds max_entries to a multiple of the CPUs (measured: 5 -> 6). */
	c = (struct create_case)C(LRU_HASH, 4, 4, 5, BPF_F_NO_COMMON_LRU, 0);
	map = create(&c, &err);
	assert_int_equal(err, 0);
	assert_int_equal(map->max_entries, 6);
	bpf_map_put_with_uref(map);

	/* Per-CPU values: round_up(value_size, 8) for each possible CPU (env: 2). */
	c = (struct create_case)C(PERCPU_ARRAY, 4, 12, 1, 0, 0);
	map = create(&c, &err);
	assert_int_equal(err, 0);
	assert_int_equal(bpf_map_value_size(map), 2 * 16);
	bpf_map_put_with_uref(map);

	/* fd maps: a u32 on the syscall side. */
	assert_int_equal(bpf_map_value_size(fds[FD_PROG_ARRAY].map), 4);
	assert_int_equal(bpf_map_value_size(fds[FD_AOM].map), 4);
	assert_true(bpf_map_is_fd_map(fds[FD_AOM].map));
	assert_false(bpf_map_is_fd_map(fds[FD_ARRAY].map));
	assert_null(bpf_map_type_name(BPF_MAP_TYPE_STACK_TRACE));
}

/* The meta template keeps a reference on nothing: the inner map's count is back to one. */
static void test_inner_map_meta_no_ref(void **state)
{
	(void)state;
	assert_int_equal(atomic_load(&fds[FD_ARRAY].map->refcnt), 1);
	assert_non_null(fds[FD_AOM].map->inner_map_meta);
	assert_int_equal(fds[FD_AOM].map->inner_map_meta->map_type, BPF_MAP_TYPE_ARRAY);
}

static void test_fmode(void **state)
{
	(void)state;
	/* bpf_get_file_flag */
	assert_int_equal(bpf_map_fmode_from_flags(0), BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE);
	assert_int_equal(bpf_map_fmode_from_flags(BPF_F_RDONLY), BPF_MAP_FMODE_READ);
	assert_int_equal(bpf_map_fmode_from_flags(BPF_F_WRONLY), BPF_MAP_FMODE_WRITE);
	assert_int_equal(bpf_map_fmode_from_flags(BPF_F_RDONLY | BPF_F_WRONLY), -EINVAL);
	/* no value has a bpf_spin_lock (measured: BPF_F_LOCK on a plain hash is -EINVAL) */
	assert_int_equal(bpf_map_check_lock_flag(fds[FD_ARRAY].map, BPF_F_LOCK), -EINVAL);
	assert_int_equal(bpf_map_check_lock_flag(fds[FD_ARRAY].map, 0), 0);
}

/* fdinfo's memlock: the kernel's map_mem_usage, measured on 6.18 with 2 possible CPUs. */
static void test_mem_usage(void **state)
{
	static const struct {
		struct create_case c;
		uint64_t memlock;
	} cases[] = {
		{ C(ARRAY, 4, 4, 1, 0, 0), 320 },
		{ C(ARRAY, 4, 4, 100, 0, 0), 1112 },
		{ C(ARRAY, 4, 12, 100, 0, 0), 1912 },
		{ C(ARRAY, 4, 4, 1, BPF_F_MMAPABLE, 0), 8192 },
		{ C(ARRAY, 4, 4, 3000, BPF_F_MMAPABLE, 0), 28672 },
		{ C(PERCPU_ARRAY, 4, 4, 1, 0, 0), 336 },
		{ C(PERCPU_ARRAY, 4, 4, 100, 0, 0), 2712 },
		{ C(PROG_ARRAY, 4, 4, 100, 0, 0), 1112 },
		{ CI(ARRAY_OF_MAPS, 4, 4, 100, 0, FD_ARRAY, 0), 1112 },
		{ C(HASH, 4, 4, 1, 0, 0), 1120 },
		{ C(HASH, 4, 4, 100, 0, 0), 9488 },
		{ C(HASH, 8, 16, 100, 0, 0), 10304 },
		{ C(HASH, 4, 4, 100, BPF_F_NO_PREALLOC, 0), 2944 },
		{ C(PERCPU_HASH, 4, 4, 100, 0, 0), 10944 },
		{ C(LRU_HASH, 4, 4, 100, 0, 0), 9344 },
		{ C(LRU_PERCPU_HASH, 4, 4, 100, 0, 0), 10944 },
		{ CI(HASH_OF_MAPS, 4, 4, 100, 0, FD_ARRAY, 0), 9360 },
		{ C(RINGBUF, 0, 0, 4096, 0, 0), 16728 },
		{ C(RINGBUF, 0, 0, 65536, 0, 0), 78408 },
	};
	uint32_t k, v = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpf_map *map;
		int err;

		map = create(&cases[i].c, &err);
		assert_int_equal(err, 0);
		if (bpf_map_mem_usage(map) != cases[i].memlock)
			fail_msg("case %zu: memlock %llu, want %llu", i,
				 (unsigned long long)bpf_map_mem_usage(map),
				 (unsigned long long)cases[i].memlock);
		/* without preallocation, the elements in the table count */
		if (map->map_flags & BPF_F_NO_PREALLOC) {
			for (k = 1; k <= 2; k++)
				assert_int_equal(bpf_map_update_value(map, &k, &v, BPF_ANY), 0);
			assert_int_equal(bpf_map_mem_usage(map), 3088);
		}
		bpf_map_put_with_uref(map);
	}
	urcu_memb_barrier();
}

/* The per-CPU layout follows the runtime's CPU count; a runtime needs at least one CPU. */
static void test_env_cpus(void **state)
{
	static const struct bpf_map_env env0 = { .nr_cpus = 0 }, env3 = { .nr_cpus = 3 };
	union bpf_attr attr;
	struct bpf_map *map;

	(void)state;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_PERCPU_HASH;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	assert_int_equal(bpf_map_alloc(&attr, &env0, &map), -EINVAL);
	assert_int_equal(bpf_map_alloc(&attr, &env3, &map), 0);
	assert_int_equal(bpf_map_value_size(map), 3 * 8);
	assert_true(bpf_map_this_cpu(map) < 3);
	bpf_map_put_with_uref(map);
}

/* Maps reached by id: a reference only while the count is not zero (__bpf_map_inc_not_zero). */
static void test_refcount(void **state)
{
	struct bpf_map *map = must_create(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);

	(void)state;
	assert_int_equal(bpf_map_inc_not_zero(map, true), 0);
	assert_int_equal(atomic_load(&map->refcnt), 2);
	assert_int_equal(atomic_load(&map->usercnt), 2);
	bpf_map_put_with_uref(map);
	bpf_map_inc(map);
	bpf_map_put_with_uref(map); /* the creator's fd */
	assert_int_equal(atomic_load(&map->usercnt), 0);
	bpf_map_put(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_table),
		cmocka_unit_test(test_create_attributes),
		cmocka_unit_test(test_inner_map_meta_no_ref),
		cmocka_unit_test(test_fmode),
		cmocka_unit_test(test_mem_usage),
		cmocka_unit_test(test_env_cpus),
		cmocka_unit_test(test_refcount),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
