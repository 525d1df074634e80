// SPDX-License-Identifier: MIT
/*
 * test_map_concurrency.c - smoke tests of the data path against syscall-side writers:
 * threads update and delete through the syscall functions while others look up and
 * update through the ops table under the RCU read lock, as helpers do, and one walks the
 * keys with GET_NEXT_KEY. Afterwards the map must be consistent. Run under ASan (and TSan
 * in tests/stress when it exists) to catch use-after-free and races on the chains.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/map.h"

#define NR_KEYS	    2048
#define MAX_ENTRIES 1024 /* half the keys: the map is often full */
#define NR_OPS	    100000

static const struct bpf_map_env env = { .nr_cpus = 2 };

struct val {
	uint32_t key;
	uint32_t gen;
};

struct ctx {
	struct bpf_map *map;
	/* Malloc'ed elements are never reused while a reader holds them: values must match. */
	bool strict;
	_Atomic bool stop;
	_Atomic int errors;
};

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The syscall side: updates (new keys and replacements) and deletes. */
static void *writer(void *arg)
{
	struct ctx *c = arg;
	uint32_t seed = (uint32_t)(uintptr_t)pthread_self() | 1;

	for (uint32_t i = 0; i < NR_OPS; i++) {
		uint32_t k = next_rand(&seed) % NR_KEYS;
		struct val v = { k, i };
		int err;

		if (next_rand(&seed) % 3) {
			err = bpf_map_update_value(c->map, &k, &v, BPF_ANY);
			if (err && err != -E2BIG)
				atomic_fetch_add(&c->errors, 1);
		} else {
			err = bpf_map_delete_value(c->map, &k);
			if (err && err != -ENOENT)
				atomic_fetch_add(&c->errors, 1);
		}
	}
	return NULL;
}

/* The data path: lookups and updates as helpers make them, inside RCU read sections. */
static void *reader(void *arg)
{
	struct ctx *c = arg;
	uint32_t seed = (uint32_t)(uintptr_t)pthread_self() | 3;

	bpf_rcu_thread_online();
	while (!atomic_load(&c->stop)) {
		urcu_memb_read_lock();
		for (int i = 0; i < 64; i++) {
			uint32_t k = next_rand(&seed) % NR_KEYS;
			struct val *v = c->map->ops->map_lookup_elem(c->map, &k), copy;

			if (v) {
				memcpy(&copy, v, sizeof(copy));
				if (copy.key >= NR_KEYS || (c->strict && copy.key != k))
					atomic_fetch_add(&c->errors, 1);
			}
			if (i % 16 == 0) {
				struct val nv = { k, 0 };
				long err = c->map->ops->map_update_elem(c->map, &k, &nv, BPF_ANY);

				if (err && err != -E2BIG && err != -ENOMEM)
					atomic_fetch_add(&c->errors, 1);
			}
		}
		urcu_memb_read_unlock();
	}
	return NULL;
}

/*
 * GET_NEXT_KEY walks while the chains change: every key returned is one that was stored.
 * A walk need not end while writers run: a key deleted under it sends it back to the first
 * key, in the kernel too (htab_map_get_next_key), so walks are cut at a bound here; the
 * quiet walk after the writers stop must end.
 */
static void *walker(void *arg)
{
	struct ctx *c = arg;

	while (!atomic_load(&c->stop)) {
		uint32_t k, nk, n = 0;
		void *prev = NULL;

		while (n++ < 4 * NR_KEYS && bpf_map_next_key(c->map, prev, &nk) == 0) {
			if (nk >= NR_KEYS)
				atomic_fetch_add(&c->errors, 1);
			k = nk;
			prev = &k;
		}
	}
	return NULL;
}

static void stress(uint32_t type, uint32_t flags, bool strict)
{
	pthread_t writers[2], readers[2], walk;
	struct ctx c = { .strict = strict };
	union bpf_attr attr;
	uint32_t k, nk, n = 0;
	void *prev = NULL;
	struct val v;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = sizeof(uint32_t);
	attr.value_size = sizeof(struct val);
	attr.max_entries = MAX_ENTRIES;
	attr.map_flags = flags;
	assert_int_equal(bpf_map_alloc(&attr, &env, &c.map), 0);

	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&readers[i], NULL, reader, &c), 0);
		assert_int_equal(pthread_create(&writers[i], NULL, writer, &c), 0);
	}
	assert_int_equal(pthread_create(&walk, NULL, walker, &c), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(writers[i], NULL);
	atomic_store(&c.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	pthread_join(walk, NULL);
	assert_int_equal(atomic_load(&c.errors), 0);

	/* Quiet now: every key found holds its own value, and no more than max_entries. */
	while (bpf_map_next_key(c.map, prev, &nk) == 0) {
		assert_int_equal(bpf_map_copy_value(c.map, &nk, &v, 0), 0);
		assert_int_equal(v.key, nk);
		k = nk;
		prev = &k;
		n++;
	}
	assert_true(n > 0 && n <= MAX_ENTRIES);
	/* and the table still takes and gives back elements */
	while (bpf_map_next_key(c.map, NULL, &nk) == 0)
		assert_int_equal(bpf_map_delete_value(c.map, &nk), 0);
	for (k = 0; k < MAX_ENTRIES; k++) {
		v = (struct val){ k, 1 };
		assert_int_equal(bpf_map_update_value(c.map, &k, &v, BPF_NOEXIST), 0);
	}
	bpf_map_put_with_uref(c.map);
	urcu_memb_barrier();
}

static void test_hash_prealloc(void **state)
{
	(void)state;
	stress(BPF_MAP_TYPE_HASH, 0, false);
}

static void test_hash_no_prealloc(void **state)
{
	(void)state;
	stress(BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, true);
}

static void test_lru_hash(void **state)
{
	(void)state;
	stress(BPF_MAP_TYPE_LRU_HASH, 0, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_prealloc),
		cmocka_unit_test(test_hash_no_prealloc),
		cmocka_unit_test(test_lru_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
