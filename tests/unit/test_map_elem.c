// SPDX-License-Identifier: MIT
/*
 * test_map_elem.c - the syscall-side element commands of arrays and hash maps, their
 * batches, BPF_MAP_FREEZE and mmap, against what Linux 6.18 answers. Each script is the
 * sequence a measuring program ran through bpf() on the live kernel (u32 keys and values),
 * with the errno it got; rows citing a kernel function were read there instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "bpf/map.h"

static const struct bpf_map_env env = { .nr_cpus = 2 };

/* User memory is this process's memory; address 0 faults. */
static int ua_from(const struct bpf_uaccess *ua, void *dst, uint64_t src, size_t len)
{
	(void)ua;
	if (!src)
		return -EFAULT;
	memcpy(dst, (void *)(uintptr_t)src, len);
	return 0;
}

static int ua_to(const struct bpf_uaccess *ua, uint64_t dst, const void *src, size_t len)
{
	(void)ua;
	if (!dst)
		return -EFAULT;
	memcpy((void *)(uintptr_t)dst, src, len);
	return 0;
}

static const struct bpf_uaccess ua = { .copy_from_user = ua_from, .copy_to_user = ua_to };

static struct bpf_map *new_map(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max,
			       uint32_t flags)
{
	union bpf_attr attr;
	struct bpf_map *map;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = ks;
	attr.value_size = vs;
	attr.max_entries = max;
	attr.map_flags = flags;
	assert_int_equal(bpf_map_alloc(&attr, &env, &map), 0);
	return map;
}

static void free_map(struct bpf_map *map)
{
	bpf_map_put_with_uref(map);
	urcu_memb_barrier(); /* malloc'ed elements wait for a grace period */
}

/* ---- Scripts ------------------------------------------------------------------------- */

enum op { UPDATE, LOOKUP, DELETE, NEXT_KEY, NEXT_KEY_NULL, LOOKUP_AND_DELETE };

struct step {
	enum op op;
	uint32_t key;
	uint32_t value; /* UPDATE: the value; LOOKUP, NEXT_KEY: the one expected on success */
	uint64_t flags;
	int err;
};

static void run_script(struct bpf_map *map, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++, s++) {
		uint32_t out = 0xdeadbeef;
		int err = 0;

		switch (s->op) {
		case UPDATE:
			err = bpf_map_update_value(map, &s->key, &s->value, s->flags);
			break;
		case LOOKUP:
			err = bpf_map_copy_value(map, &s->key, &out, s->flags);
			break;
		case DELETE:
			err = bpf_map_delete_value(map, &s->key);
			break;
		case NEXT_KEY:
			err = bpf_map_next_key(map, &s->key, &out);
			break;
		case NEXT_KEY_NULL:
			err = bpf_map_next_key(map, NULL, &out);
			break;
		case LOOKUP_AND_DELETE:
			err = bpf_map_lookup_and_delete_value(map, &s->key, &out, s->flags);
			break;
		}
		if (err != s->err)
			fail_msg("step %zu: op %d key %u flags %#llx: got %d, want %d", i, s->op,
				 s->key, (unsigned long long)s->flags, err, s->err);
		if (!err && s->op != UPDATE && s->op != DELETE && out != s->value)
			fail_msg("step %zu: op %d key %u: got value %u, want %u", i, s->op, s->key,
				 out, s->value);
	}
}

#define RUN(map, script) run_script(map, script, sizeof(script) / sizeof(script[0]))

/* HASH 4/4, max_entries 2 (measured on 6.18) */
static const struct step hash_script[] = {
	{ NEXT_KEY_NULL, 0, 0, 0, -ENOENT },
	{ NEXT_KEY, 1, 0, 0, -ENOENT },
	{ UPDATE, 1, 10, BPF_EXIST, -ENOENT },
	{ UPDATE, 1, 10, BPF_NOEXIST, 0 },
	{ UPDATE, 1, 10, BPF_NOEXIST, -EEXIST },
	{ UPDATE, 1, 10, 3, -EINVAL },
	{ UPDATE, 1, 10, BPF_F_LOCK, -EINVAL }, /* no bpf_spin_lock in the value */
	{ UPDATE, 1, 10, 8, -EINVAL },
	{ UPDATE, 1, 10, 1ull << 32, -EINVAL },
	{ UPDATE, 2, 20, BPF_ANY, 0 },
	{ UPDATE, 3, 30, BPF_ANY, -E2BIG }, /* full */
	{ UPDATE, 3, 30, BPF_EXIST, -ENOENT },
	{ UPDATE, 2, 21, BPF_ANY, 0 }, /* replacing works when full */
	{ UPDATE, 2, 22, BPF_EXIST, 0 },
	{ LOOKUP, 2, 22, 0, 0 },
	{ LOOKUP, 7, 0, 0, -ENOENT },
	{ LOOKUP, 2, 0, BPF_F_LOCK, -EINVAL },
	{ LOOKUP_AND_DELETE, 2, 0, BPF_F_LOCK, -EINVAL },
	{ LOOKUP_AND_DELETE, 2, 22, 0, 0 },
	{ LOOKUP_AND_DELETE, 2, 0, 0, -ENOENT },
	{ DELETE, 2, 0, 0, -ENOENT },
	{ NEXT_KEY, 7, 1, 0, 0 }, /* a missing key starts over: the only key left */
	{ NEXT_KEY, 1, 0, 0, -ENOENT },
	{ DELETE, 1, 0, 0, 0 },
	{ DELETE, 1, 0, 0, -ENOENT },
};

/* HASH with BPF_F_NO_PREALLOC, max_entries 2 (measured) */
static const struct step hash_noprealloc_script[] = {
	{ UPDATE, 0, 1, BPF_ANY, 0 },
	{ UPDATE, 1, 1, BPF_ANY, 0 },
	{ UPDATE, 2, 1, BPF_ANY, -E2BIG },
	{ UPDATE, 1, 2, BPF_ANY, 0 },
	{ LOOKUP, 1, 2, 0, 0 },
	{ DELETE, 0, 0, 0, 0 },
	{ UPDATE, 2, 3, BPF_NOEXIST, 0 },
	{ LOOKUP_AND_DELETE, 2, 3, 0, 0 },
};

/* ARRAY 4/4, max_entries 4 (measured) */
static const struct step array_script[] = {
	{ UPDATE, 4, 1, BPF_ANY, -E2BIG },
	{ UPDATE, 4, 1, BPF_NOEXIST, -E2BIG }, /* the index before the flag */
	{ UPDATE, 4, 1, 3, -EINVAL },	       /* unknown flags first */
	{ UPDATE, 4, 1, BPF_F_LOCK, -EINVAL },
	{ UPDATE, 1, 1, BPF_NOEXIST, -EEXIST },
	{ UPDATE, 1, 11, BPF_EXIST, 0 },
	{ UPDATE, 1, 1, 3, -EINVAL },
	{ LOOKUP, 1, 11, 0, 0 },
	{ LOOKUP, 0, 0, 0, 0 }, /* zero-filled */
	{ LOOKUP, 4, 0, 0, -ENOENT },
	{ DELETE, 1, 0, 0, -EINVAL },
	{ DELETE, 9, 0, 0, -EINVAL },
	{ NEXT_KEY_NULL, 0, 0, 0, 0 },
	{ NEXT_KEY, 9, 0, 0, 0 }, /* out of range: back to 0 */
	{ NEXT_KEY, 2, 3, 0, 0 },
	{ NEXT_KEY, 3, 0, 0, -ENOENT },
	{ LOOKUP_AND_DELETE, 1, 0, 0, -ENOTSUPP },
	{ LOOKUP_AND_DELETE, 1, 0, BPF_F_LOCK, -EINVAL },
};

/* LRU_HASH: flags as the hash (htab_lru_map_update_elem) */
static const struct step lru_script[] = {
	{ UPDATE, 1, 1, BPF_EXIST, -ENOENT },
	{ UPDATE, 1, 1, BPF_NOEXIST, 0 },
	{ UPDATE, 1, 1, BPF_NOEXIST, -EEXIST },
	{ UPDATE, 1, 2, 3, -EINVAL },
	{ UPDATE, 1, 2, BPF_F_LOCK, -EINVAL },
	{ UPDATE, 1, 2, BPF_EXIST, 0 },
	{ LOOKUP, 1, 2, 0, 0 },
	{ LOOKUP_AND_DELETE, 1, 2, 0, 0 },
	{ DELETE, 1, 0, 0, -ENOENT },
};

static void test_hash_script(void **state)
{
	struct bpf_map *map;

	(void)state;
	map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 2, 0);
	RUN(map, hash_script);
	free_map(map);
	map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 2, BPF_F_NO_PREALLOC);
	RUN(map, hash_noprealloc_script);
	free_map(map);
	map = new_map(BPF_MAP_TYPE_LRU_HASH, 4, 4, 8, 0);
	RUN(map, lru_script);
	free_map(map);
}

static void test_array_script(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0);

	(void)state;
	RUN(map, array_script);
	free_map(map);
}

/* A preallocated hash full of keys keeps replacing them: the spare elements at work. */
static void test_hash_full_replace(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 64, 0);
	uint32_t k, v;

	(void)state;
	for (k = 0; k < 64; k++)
		assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_ANY), -E2BIG);
	for (int round = 0; round < 10; round++)
		for (k = 0; k < 64; k++) {
			v = k + 1000 * round;
			assert_int_equal(bpf_map_update_value(map, &k, &v, BPF_EXIST), 0);
		}
	for (k = 0; k < 64; k++) {
		assert_int_equal(bpf_map_copy_value(map, &k, &v, 0), 0);
		assert_int_equal(v, k + 9000);
	}
	k = 5;
	assert_int_equal(bpf_map_delete_value(map, &k), 0);
	k = 100;
	assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_ANY), 0);
	free_map(map);
}

/*
 * With BPF_F_ZERO_SEED the hash is jhash with seed 0, so the order GET_NEXT_KEY walks is
 * the kernel's: buckets in index order, the most recent insertion first in each (measured
 * with the same keys and max_entries 8).
 */
static void test_hash_zero_seed_order(void **state)
{
	static const uint32_t want4[] = { 29, 50, 1, 8, 15, 43, 36, 22 };
	static const uint8_t want6[] = { 7, 5, 3, 0, 4, 1, 6, 2 };
	struct bpf_map *map;
	uint32_t k, nk, i;
	uint8_t k6[6], nk6[6];
	void *prev;

	(void)state;
	map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 8, BPF_F_ZERO_SEED);
	for (i = 0; i < 8; i++) {
		k = i * 7 + 1;
		assert_int_equal(bpf_map_update_value(map, &k, &i, BPF_ANY), 0);
	}
	for (prev = NULL, i = 0; bpf_map_next_key(map, prev, &nk) == 0; i++) {
		assert_true(i < 8);
		assert_int_equal(nk, want4[i]);
		k = nk;
		prev = &k;
	}
	assert_int_equal(i, 8);
	free_map(map);

	/* 6-byte keys take jhash's byte path */
	map = new_map(BPF_MAP_TYPE_HASH, 6, 4, 8, BPF_F_ZERO_SEED);
	for (i = 0; i < 8; i++) {
		uint8_t kk[6] = { i, 2 * i, 3, 4, 5, i * 9 };

		assert_int_equal(bpf_map_update_value(map, kk, &i, BPF_ANY), 0);
	}
	for (prev = NULL, i = 0; bpf_map_next_key(map, prev, nk6) == 0; i++) {
		assert_true(i < 8);
		assert_int_equal(nk6[0], want6[i]);
		memcpy(k6, nk6, 6);
		prev = k6;
	}
	assert_int_equal(i, 8);
	free_map(map);
}

/* ---- Per-CPU maps -------------------------------------------------------------------- */

/*
 * bpf() sees round_up(value_size, 8) bytes per CPU, padding included both ways (measured:
 * value_size 4, an update of 0xab bytes reads back 0xab in all 8 bytes of each CPU).
 */
static void test_percpu_array(void **state)
{
	static const struct step script[] = {
		{ UPDATE, 1, 0, BPF_NOEXIST, -EEXIST },
		{ UPDATE, 1, 0, 3, -EINVAL },
		{ UPDATE, 1, 0, BPF_F_LOCK, -EINVAL },
		{ UPDATE, 4, 0, BPF_ANY, -E2BIG },
	};
	struct bpf_map *map = new_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 4, 0);
	uint64_t vv[2], out[2];
	uint32_t k = 1, *p, cpu;

	(void)state;
	/* the script's values are ignored before the copy: one u32 is enough to point at */
	RUN(map, script);
	memset(vv, 0xab, sizeof(vv));
	assert_int_equal(bpf_map_update_value(map, &k, vv, BPF_ANY), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(bpf_map_copy_value(map, &k, out, 0), 0);
	assert_memory_equal(out, vv, sizeof(vv));
	k = 7;
	assert_int_equal(bpf_map_copy_value(map, &k, out, 0), -ENOENT);

	/* The data path sees this CPU's value, and writes value_size bytes of it. */
	k = 2;
	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	cpu = bpf_map_this_cpu(map);
	p = map->ops->map_lookup_elem(map, &k);
	assert_non_null(p);
	*p = 42;
	assert_ptr_equal(map->ops->map_lookup_percpu_elem(map, &k, cpu), p);
	assert_null(map->ops->map_lookup_percpu_elem(map, &k, 2));
	k = 4;
	assert_null(map->ops->map_lookup_elem(map, &k));
	urcu_memb_read_unlock();
	k = 2;
	assert_int_equal(bpf_map_copy_value(map, &k, out, 0), 0);
	assert_int_equal((uint32_t)out[cpu], 42);
	assert_int_equal(out[1 - cpu], 0);
	free_map(map);
}

static void test_percpu_hash(void **state)
{
	static const struct step script[] = {
		{ UPDATE, 1, 0, 3, -EINVAL },	       { UPDATE, 1, 0, BPF_EXIST, -ENOENT },
		{ UPDATE, 1, 0, BPF_ANY, 0 },	       { UPDATE, 1, 0, BPF_NOEXIST, -EEXIST },
		{ UPDATE, 1, 0, BPF_F_LOCK, -EINVAL },
	};
	uint32_t types[] = { BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH };

	(void)state;
	for (int t = 0; t < 2; t++) {
		struct bpf_map *map = new_map(types[t], 4, 4, 4, 0);
		uint64_t vv[2] = { 0x1111111111111111ull, 0x2222222222222222ull }, out[2];
		uint32_t k = 1, v, cpu, *p;

		/* update from bpf(): the script's value buffer must hold both CPUs */
		assert_int_equal(bpf_map_update_value(map, &k, vv, BPF_ANY), 0);
		assert_int_equal(bpf_map_delete_value(map, &k), 0);
		for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++)
			assert_int_equal(
				bpf_map_update_value(map, &script[i].key, vv, script[i].flags),
				script[i].err);
		assert_int_equal(bpf_map_copy_value(map, &k, out, 0), 0);
		assert_memory_equal(out, vv, sizeof(vv));
		assert_int_equal(bpf_map_lookup_and_delete_value(map, &k, out, 0), 0);
		assert_memory_equal(out, vv, sizeof(vv));
		assert_int_equal(bpf_map_copy_value(map, &k, out, 0), -ENOENT);

		/* A program's insert sets its CPU's value and zeroes the others. */
		bpf_rcu_thread_online();
		urcu_memb_read_lock();
		v = 77;
		k = 3;
		assert_int_equal(map->ops->map_update_elem(map, &k, &v, BPF_ANY), 0);
		assert_int_equal(map->ops->map_update_elem(map, &k, &v, 3), -EINVAL);
		cpu = bpf_map_this_cpu(map);
		p = map->ops->map_lookup_elem(map, &k);
		assert_non_null(p);
		assert_int_equal(*p, 77);
		urcu_memb_read_unlock();
		assert_int_equal(bpf_map_copy_value(map, &k, out, 0), 0);
		assert_int_equal((uint32_t)out[cpu], 77);
		assert_int_equal((uint32_t)out[1 - cpu], 0);
		free_map(map);
	}
}

/* ---- LRU eviction -------------------------------------------------------------------- */

static int count_keys(struct bpf_map *map)
{
	uint32_t k, nk;
	void *prev = NULL;
	int n = 0;

	while (bpf_map_next_key(map, prev, &nk) == 0) {
		n++;
		k = nk;
		prev = &k;
	}
	return n;
}

/*
 * A full LRU map evicts target_free = clamp(max_entries / CPUs / 2, 1, 128) elements at a
 * time into the free list a refill fills (bpf_lru_list_pop_free_to_local). Measured on 6.18
 * with 2 CPUs, filling from one thread: the counts after filling, after one more insert,
 * and after 3 × max_entries more.
 */
static void test_lru_eviction_counts(void **state)
{
	static const struct {
		uint32_t max;
		int filled, after_one, after_many;
	} cases[] = {
		{ 4, 4, 4, 4 },
		{ 16, 16, 13, 13 },
		{ 256, 256, 193, 193 },
		{ 1000, 976, 977, 905 },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct bpf_map *map = new_map(BPF_MAP_TYPE_LRU_HASH, 4, 4, cases[c].max, 0);
		uint32_t i, k;

		for (i = 0; i < cases[c].max; i++)
			assert_int_equal(bpf_map_update_value(map, &i, &i, BPF_ANY), 0);
		assert_int_equal(count_keys(map), cases[c].filled);
		k = cases[c].max + 100;
		assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_ANY), 0);
		assert_int_equal(count_keys(map), cases[c].after_one);
		for (i = 0; i < 3 * cases[c].max; i++) {
			k = 100000 + i;
			assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_NOEXIST), 0);
		}
		assert_int_equal(count_keys(map), cases[c].after_many);
		free_map(map);
	}
}

/* Keys a program looked up get a second chance; user-space lookups do not count. */
static void test_lru_reference(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_LRU_HASH, 4, 4, 16, 0);
	uint32_t i, k, v;

	(void)state;
	for (i = 0; i < 16; i++)
		assert_int_equal(bpf_map_update_value(map, &i, &i, BPF_ANY), 0);
	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	for (k = 0; k < 4; k++)
		assert_non_null(map->ops->map_lookup_elem(map, &k));
	urcu_memb_read_unlock();
	for (k = 4; k < 8; k++)
		assert_int_equal(bpf_map_copy_value(map, &k, &v, 0), 0);
	k = 100;
	assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_ANY), 0); /* evicts 4 */
	for (k = 0; k < 4; k++)
		assert_int_equal(bpf_map_copy_value(map, &k, &v, 0), 0);
	for (k = 4; k < 8; k++)
		assert_int_equal(bpf_map_copy_value(map, &k, &v, 0), -ENOENT);
	free_map(map);
}

/*
 * BPF_F_NO_COMMON_LRU: one list per CPU, refilled PERCPU_FREE_TARGET (4) at a time.
 * Measured: max_entries 5 on 2 CPUs becomes 6, three per CPU; five inserts from one CPU
 * leave 2 keys (the fourth evicts all three).
 */
static void test_lru_percpu_lists(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_LRU_HASH, 4, 4, 5, BPF_F_NO_COMMON_LRU);
	cpu_set_t set, old;
	uint32_t i;

	(void)state;
	assert_int_equal(map->max_entries, 6);
	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == 0) {
		for (i = 0; i < 5; i++)
			assert_int_equal(bpf_map_update_value(map, &i, &i, BPF_ANY), 0);
		assert_int_equal(count_keys(map), 2);
		sched_setaffinity(0, sizeof(old), &old);
	}
	free_map(map);
}

/* ---- Batches ------------------------------------------------------------------------- */

static union bpf_attr batch_attr(void *in, void *out, void *keys, void *values, uint32_t count)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.batch.in_batch = (uintptr_t)in;
	attr.batch.out_batch = (uintptr_t)out;
	attr.batch.keys = (uintptr_t)keys;
	attr.batch.values = (uintptr_t)values;
	attr.batch.count = count;
	return attr;
}

/* generic_map_{lookup,update}_batch over an ARRAY of 5 (measured on 6.18) */
static void test_array_batch(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_ARRAY, 4, 4, 5, 0);
	uint32_t keys[8], vals[8], in, out, i;
	union bpf_attr a;

	(void)state;
	for (i = 0; i < 5; i++) {
		keys[i] = i;
		vals[i] = i * 10;
	}
	a = batch_attr(NULL, NULL, keys, vals, 5);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), 0);
	assert_int_equal(a.batch.count, 5);
	keys[2] = 7; /* out of range: stops there */
	a = batch_attr(NULL, NULL, keys, vals, 5);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), -E2BIG);
	assert_int_equal(a.batch.count, 2);

	out = 99;
	a = batch_attr(NULL, &out, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), 0);
	assert_int_equal(a.batch.count, 2);
	assert_int_equal(out, 1); /* the token is the last key returned */
	assert_int_equal(keys[1], 1);
	assert_int_equal(vals[1], 10);
	in = out;
	a = batch_attr(&in, &out, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), 0);
	assert_int_equal(out, 3);
	assert_int_equal(keys[0], 2);
	in = out;
	a = batch_attr(&in, &out, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 1);
	assert_int_equal(out, 4);
	in = out;
	out = 77;
	a = batch_attr(&in, &out, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 0);
	assert_int_equal(out, 77); /* nothing returned: the token is not written */
	in = 100;		   /* out of range: get_next_key starts over */
	a = batch_attr(&in, &out, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), 0);
	assert_int_equal(keys[0], 0);
	a = batch_attr(NULL, &out, keys, vals, 10);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 5);

	a = batch_attr(NULL, NULL, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_DELETE_BATCH, &a, &ua), -ENOTSUPP);
	a = batch_attr(NULL, &out, keys, vals, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_AND_DELETE_BATCH, &a, &ua),
			 -ENOTSUPP);
	a = batch_attr(NULL, NULL, keys, vals, 2);
	a.batch.elem_flags = BPF_NOEXIST; /* batches take BPF_F_LOCK at most */
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), -EINVAL);
	a = batch_attr(NULL, NULL, keys, vals, 2);
	a.batch.flags = 1; /* the generic batches ignore it */
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), 0);
	a = batch_attr(NULL, NULL, keys, vals, 0);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), 0);
	/* a fault on the values: nothing counted */
	a = batch_attr(NULL, &out, keys, NULL, 2);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -EFAULT);
	assert_int_equal(a.batch.count, 0);
	free_map(map);
}

static bool contains(const uint32_t *keys, uint32_t n, uint32_t k)
{
	for (uint32_t i = 0; i < n; i++)
		if (keys[i] == k)
			return true;
	return false;
}

/*
 * __htab_map_lookup_and_delete_batch: tokens are bucket indices (measured on 6.18). The seed
 * is zero so that which keys share a bucket is the same every run: with a random seed a bucket
 * now and then holds more than the 3 keys a batch below takes (-ENOSPC, the kernel's answer).
 */
static void test_hash_batch(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 16, BPF_F_ZERO_SEED);
	uint32_t keys[32], vals[32], in, out, i, total;
	void *inp;
	union bpf_attr a;
	int err;

	(void)state;
	a = batch_attr(NULL, &out, keys, vals, 0);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), 0);
	a = batch_attr(NULL, &out, keys, vals, 4);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 0);
	assert_int_equal(out, 16); /* n_buckets */

	for (i = 0; i < 10; i++) {
		keys[i] = i;
		vals[i] = i * 10;
	}
	a = batch_attr(NULL, NULL, keys, vals, 10);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), 0);
	assert_int_equal(a.batch.count, 10);

	/* flags: elem_flags BPF_F_LOCK at most (and it needs a spin lock), flags 0 */
	a = batch_attr(NULL, NULL, keys, vals, 10);
	a.batch.elem_flags = 1;
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), -EINVAL);
	a = batch_attr(NULL, &out, keys, vals, 10);
	a.batch.flags = 1;
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -EINVAL);
	a = batch_attr(NULL, &out, keys, vals, 10);
	a.batch.elem_flags = BPF_F_LOCK;
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -EINVAL);
	assert_int_equal(a.batch.count, 10); /* rejected before the count is touched */

	/* three at a time until -ENOENT: every key once, values matching */
	memset(keys, 0xff, sizeof(keys));
	total = 0;
	inp = NULL;
	do {
		a = batch_attr(inp, &out, keys + total, vals + total, 3);
		err = bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua);
		assert_true(err == 0 || err == -ENOENT);
		assert_true(a.batch.count <= 3);
		total += a.batch.count;
		in = out;
		inp = &in;
	} while (!err);
	assert_int_equal(total, 10);
	assert_int_equal(out, 16);
	for (i = 0; i < 10; i++) {
		assert_true(contains(keys, 10, i));
		assert_int_equal(vals[i], keys[i] * 10);
	}

	/* a token past the last bucket: -ENOENT before anything, the token untouched */
	in = 16;
	out = 3;
	a = batch_attr(&in, &out, keys, vals, 5);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 0);
	assert_int_equal(out, 3);
	/* no out_batch: the end cannot be reported */
	a = batch_attr(NULL, NULL, keys, vals, 32);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua), -EFAULT);

	/* delete: stops at the first missing key, count says how many went */
	keys[0] = 0;
	keys[1] = 1;
	keys[2] = 2;
	keys[3] = 99;
	a = batch_attr(NULL, NULL, keys, vals, 10);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_DELETE_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 3);
	assert_int_equal(count_keys(map), 7);

	/* lookup-and-delete everything */
	a = batch_attr(NULL, &out, keys, vals, 100);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_AND_DELETE_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 7);
	assert_int_equal(count_keys(map), 0);
	free_map(map);

	/* update into a full map: -E2BIG after max_entries */
	map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 4, 0);
	for (i = 0; i < 10; i++)
		keys[i] = i;
	a = batch_attr(NULL, NULL, keys, vals, 10);
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_UPDATE_BATCH, &a, &ua), -E2BIG);
	assert_int_equal(a.batch.count, 4);
	free_map(map);
}

/* A bucket that does not fit in count: -ENOSPC if it comes first, else the batch ends. */
static void test_hash_batch_enospc(void **state)
{
	uint32_t keys[4], vals[4], out, k, other;
	union bpf_attr a;
	int err = 0;

	(void)state;
	/* Two buckets: find a second key that shares the first key's bucket. */
	for (other = 1; other < 64; other++) {
		struct bpf_map *map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 2, BPF_F_ZERO_SEED);

		k = 0;
		assert_int_equal(bpf_map_update_value(map, &k, &k, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_value(map, &other, &other, BPF_ANY), 0);
		a = batch_attr(NULL, &out, keys, vals, 1);
		err = bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua);
		if (err == -ENOSPC) {
			assert_int_equal(a.batch.count, 0);
			/* with room for both it works */
			a = batch_attr(NULL, &out, keys, vals, 2);
			err = bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, &ua);
			assert_true(err == 0 || err == -ENOENT);
			assert_int_equal(a.batch.count, 2);
			free_map(map);
			return;
		}
		free_map(map);
	}
	fail_msg("no two keys shared a bucket");
}

/* ---- Freeze and mmap ----------------------------------------------------------------- */

/*
 * Measured on 6.18: after BPF_MAP_FREEZE updates and deletes through bpf() are -EPERM
 * (the fd loses write access), lookups work, and a second freeze is -EPERM too; an fd
 * opened read-only cannot freeze (-EPERM); a write-only one can.
 */
static void test_freeze(void **state)
{
	const uint32_t rw = BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE;
	struct bpf_map *map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 4, 0);

	(void)state;
	assert_int_equal(bpf_map_freeze(map, BPF_MAP_FMODE_READ), -EPERM);
	/* a write in flight (bpf_map_write_active) */
	bpf_map_write_active_inc(map);
	assert_int_equal(bpf_map_freeze(map, rw), -EBUSY);
	bpf_map_write_active_dec(map);
	assert_int_equal(bpf_map_sys_perms(map, rw), rw);
	assert_int_equal(bpf_map_freeze(map, rw), 0);
	assert_int_equal(bpf_map_sys_perms(map, rw), BPF_MAP_FMODE_READ);
	assert_int_equal(bpf_map_sys_perms(map, BPF_MAP_FMODE_WRITE), 0);
	assert_int_equal(bpf_map_freeze(map, rw), -EPERM);
	free_map(map);

	map = new_map(BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0);
	assert_int_equal(bpf_map_freeze(map, BPF_MAP_FMODE_WRITE), 0);
	free_map(map);
}

/* bpf_map_mmap and array_map_mmap (measured on 6.18) */
static void test_array_mmap(void **state)
{
	const int rw = PROT_READ | PROT_WRITE;
	const uint32_t fm = BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE;
	struct bpf_map *map = new_map(BPF_MAP_TYPE_ARRAY, 4, 4000, 2, BPF_F_MMAPABLE);
	uint32_t k = 1, v[1000] = { 77 }, *p;
	void *m;

	(void)state;
	assert_int_equal(bpf_map_mmap(map, NULL, 8192, PROT_READ, MAP_SHARED, 0, &m), 0);
	assert_int_equal(bpf_map_update_value(map, &k, v, BPF_ANY), 0);
	p = m;
	assert_int_equal(p[1000], 77); /* element 1 starts 4000 bytes in */
	munmap(m, 8192);
	bpf_map_mmap_close(map, false);
	assert_int_equal(bpf_map_mmap(map, NULL, 12288, PROT_READ, MAP_SHARED, 0, &m), -EINVAL);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, PROT_READ, MAP_SHARED, 8192, &m), -EINVAL);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, PROT_READ, MAP_PRIVATE, 0, &m), -EINVAL);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, 0, &m),
			 -EPERM);

	/* a writable mapping is a writer: freeze waits; a frozen map maps read-only only */
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, rw, MAP_SHARED, 4096, &m), 0);
	p = m;
	p[0] = 5; /* element 1's bytes 96.. of 4000: written through the mapping */
	assert_int_equal(bpf_map_freeze(map, fm), -EBUSY);
	munmap(m, 4096);
	bpf_map_mmap_close(map, true);
	assert_int_equal(bpf_map_freeze(map, fm), 0);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, rw, MAP_SHARED, 0, &m), -EPERM);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, PROT_READ, MAP_SHARED, 0, &m), 0);
	munmap(m, 4096);
	free_map(map);

	map = new_map(BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, rw, MAP_SHARED, 0, &m), -EACCES);
	free_map(map);
	map = new_map(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, PROT_READ, MAP_SHARED, 0, &m), -EINVAL);
	free_map(map);
	map = new_map(BPF_MAP_TYPE_HASH, 4, 4, 1, 0);
	assert_int_equal(bpf_map_mmap(map, NULL, 4096, PROT_READ, MAP_SHARED, 0, &m), -ENOTSUPP);
	free_map(map);
}

/* Global data: ld_imm64 BPF_PSEUDO_MAP_VALUE points into a one-element array. */
static void test_direct_value_addr(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, BPF_F_MMAPABLE);
	uint64_t imm;
	uint32_t k = 0, v[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(map->ops->map_direct_value_addr(map, &imm, 0), 0);
	assert_int_equal(map->ops->map_direct_value_addr(map, &imm, 16), -EINVAL);
	assert_int_equal(bpf_map_update_value(map, &k, v, BPF_ANY), 0);
	assert_memory_equal((void *)(uintptr_t)imm, v, sizeof(v));
	free_map(map);
	map = new_map(BPF_MAP_TYPE_ARRAY, 4, 16, 2, 0);
	assert_int_equal(map->ops->map_direct_value_addr(map, &imm, 0), -ENOTSUPP);
	free_map(map);
}

/* The data path's array lookup: a pointer into the map, no allocation, NULL past the end. */
static void test_array_data_path(void **state)
{
	struct bpf_map *map = new_map(BPF_MAP_TYPE_ARRAY, 4, 12, 3, 0);
	uint32_t k = 2, v[3] = { 7, 8, 9 }, out[3], *p;

	(void)state;
	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	p = map->ops->map_lookup_elem(map, &k);
	assert_non_null(p);
	memcpy(p, v, sizeof(v));
	assert_int_equal(map->ops->map_update_elem(map, &k, v, BPF_NOEXIST), -EEXIST);
	assert_int_equal(map->ops->map_update_elem(map, &k, v, BPF_F_LOCK), -EINVAL);
	assert_int_equal(map->ops->map_delete_elem(map, &k), -EINVAL);
	k = 3;
	assert_null(map->ops->map_lookup_elem(map, &k));
	urcu_memb_read_unlock();
	k = 2;
	assert_int_equal(bpf_map_copy_value(map, &k, out, 0), 0);
	assert_memory_equal(out, v, sizeof(v));
	free_map(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_script),
		cmocka_unit_test(test_array_script),
		cmocka_unit_test(test_hash_full_replace),
		cmocka_unit_test(test_hash_zero_seed_order),
		cmocka_unit_test(test_percpu_array),
		cmocka_unit_test(test_percpu_hash),
		cmocka_unit_test(test_lru_eviction_counts),
		cmocka_unit_test(test_lru_reference),
		cmocka_unit_test(test_lru_percpu_lists),
		cmocka_unit_test(test_array_batch),
		cmocka_unit_test(test_hash_batch),
		cmocka_unit_test(test_hash_batch_enospc),
		cmocka_unit_test(test_freeze),
		cmocka_unit_test(test_array_mmap),
		cmocka_unit_test(test_direct_value_addr),
		cmocka_unit_test(test_array_data_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
