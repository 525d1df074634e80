// SPDX-License-Identifier: MIT
/*
 * test_core_idr.c - the id allocator: the lowest-free and cyclic policies the kernel's ida
 * and idr_alloc_cyclic() have, NULL reservations, ordered iteration, ranges, and a randomised
 * run of 100,000 live ids checked against a plain array.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/idr.h"

static int obj[8];

static void test_alloc_lowest_free(void **state)
{
	struct idr idr;

	(void)state;
	idr_init(&idr);
	assert_int_equal(idr_alloc(&idr, &obj[0], 0, 0), 0);
	assert_int_equal(idr_alloc(&idr, &obj[1], 0, 0), 1);
	assert_int_equal(idr_alloc(&idr, &obj[2], 0, 0), 2);
	assert_ptr_equal(idr_remove(&idr, 1), &obj[1]);
	/* Like the ida behind namespace inode numbers: a freed id comes back first. */
	assert_int_equal(idr_alloc(&idr, &obj[3], 0, 0), 1);
	assert_int_equal(idr_alloc(&idr, &obj[4], 5, 0), 5);
	assert_int_equal(idr_alloc(&idr, &obj[5], 3, 0), 3);
	assert_ptr_equal(idr_find(&idr, 1), &obj[3]);
	assert_null(idr_find(&idr, 4));
	assert_int_equal(idr_count(&idr), 5);
	assert_int_equal(idr_alloc(&idr, NULL, -1, 0), -EINVAL);
	idr_destroy(&idr);
}

static void test_alloc_cyclic(void **state)
{
	struct idr idr;

	(void)state;
	idr_init(&idr);
	/* Starting at 1, as prog/map/link/BTF ids. */
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[0], 1, INT_MAX), 1);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[1], 1, INT_MAX), 2);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[2], 1, INT_MAX), 3);
	idr_remove(&idr, 2);
	idr_remove(&idr, 3);
	/* Not reused until the space wraps. */
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[3], 1, INT_MAX), 4);
	idr_destroy(&idr);
}

static void test_cyclic_wraps(void **state)
{
	struct idr idr;

	(void)state;
	idr_init(&idr);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[0], 1, 4), 1);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[1], 1, 4), 2);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[2], 1, 4), 3);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[3], 1, 4), -ENOSPC);
	idr_remove(&idr, 2);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[3], 1, 4), 2);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[3], 1, 4), -ENOSPC);
	idr_remove(&idr, 1);
	idr_remove(&idr, 3);
	/* After 2 the cursor is at 3: 3 comes before the wrap to 1. */
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[4], 1, 4), 3);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[5], 1, 4), 1);
	idr_destroy(&idr);
}

static void test_top_of_range(void **state)
{
	struct idr idr;

	(void)state;
	idr_init(&idr);
	assert_int_equal(idr_alloc(&idr, &obj[0], INT_MAX, 0), INT_MAX);
	assert_ptr_equal(idr_find(&idr, INT_MAX), &obj[0]);
	assert_int_equal(idr_alloc(&idr, &obj[1], INT_MAX, 0), -ENOSPC);
	assert_int_equal(idr_alloc(&idr, &obj[1], 0, 0), 0);
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[2], 1, 0), 1);
	assert_null(idr_find(&idr, (unsigned long)INT_MAX + 1));
	assert_ptr_equal(idr_remove(&idr, INT_MAX), &obj[0]);
	assert_int_equal(idr_count(&idr), 2);
	idr_destroy(&idr);
}

static void test_reserved_null(void **state)
{
	struct idr idr;
	void *old;
	int id;

	(void)state;
	idr_init(&idr);
	/* A link's id between prime and settle: taken, yet nobody finds it. */
	id = idr_alloc_cyclic(&idr, NULL, 1, 0);
	assert_int_equal(id, 1);
	assert_null(idr_find(&idr, 1));
	assert_int_equal(idr_alloc_cyclic(&idr, &obj[1], 1, 0), 2);
	id = 0;
	assert_ptr_equal(idr_get_next(&idr, &id), &obj[1]);
	assert_int_equal(id, 2);
	assert_int_equal(idr_replace(&idr, &obj[0], 1, &old), 0);
	assert_null(old);
	assert_ptr_equal(idr_find(&idr, 1), &obj[0]);
	assert_int_equal(idr_replace(&idr, &obj[0], 3, NULL), -ENOENT);
	assert_null(idr_remove(&idr, 3));
	idr_destroy(&idr);
}

static void test_get_next_in_order(void **state)
{
	static const int ids[] = { 3, 64, 65, 4095, 4096, 262144, 1000000 };
	struct idr idr;
	unsigned int i;
	void *entry;
	int id;

	(void)state;
	idr_init(&idr);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(idr_alloc(&idr, &obj[i], ids[i], ids[i] + 1), ids[i]);
	i = 0;
	idr_for_each_entry(&idr, entry, id) {
		assert_int_equal(id, ids[i]);
		assert_ptr_equal(entry, &obj[i]);
		i++;
	}
	assert_int_equal(i, sizeof(ids) / sizeof(ids[0]));
	id = 66;
	assert_ptr_equal(idr_get_next(&idr, &id), &obj[3]);
	assert_int_equal(id, 4095);
	id = 1000001;
	assert_null(idr_get_next(&idr, &id));
	idr_destroy(&idr);
}

/* A whole leaf filled and emptied: the full bitmaps go up and come down again. */
static void test_full_leaf(void **state)
{
	struct idr idr;
	int i;

	(void)state;
	idr_init(&idr);
	for (i = 0; i < 200; i++)
		assert_int_equal(idr_alloc(&idr, &obj[0], 0, 0), i);
	for (i = 0; i < 64; i++)
		assert_non_null(idr_remove(&idr, i));
	assert_int_equal(idr_alloc(&idr, &obj[0], 0, 0), 0);
	assert_int_equal(idr_alloc(&idr, &obj[0], 70, 0), 200);
	for (i = 0; i <= 200; i++)
		idr_remove(&idr, i);
	assert_int_equal(idr_count(&idr), 0);
	assert_null(idr.root);
	idr_destroy(&idr);
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* 100,000 live ids under churn, against a reference array; cyclic and lowest-free mixed. */
static void test_random_against_reference(void **state)
{
	enum { LIVE = 100000, SPACE = 1 << 20 };
	static void *ref[SPACE];
	static int live[LIVE];
	unsigned int nr_live = 0, round;
	struct idr idr;
	void *entry;
	int id, n;

	(void)state;
	idr_init_rcu(&idr);
	while (nr_live < LIVE) {
		id = idr_alloc_cyclic(&idr, &live[nr_live], 1, SPACE);
		assert_true(id > 0 && id < SPACE);
		assert_null(ref[id]);
		ref[id] = &live[nr_live];
		live[nr_live++] = id;
	}
	for (round = 0; round < 300000; round++) {
		unsigned int k = rnd() % nr_live;

		id = live[k];
		assert_ptr_equal(idr_remove(&idr, id), ref[id]);
		ref[id] = NULL;
		id = (round & 1) ? idr_alloc_cyclic(&idr, &live[k], 1, SPACE)
				 : idr_alloc(&idr, &live[k], 1 + rnd() % (SPACE - 1), SPACE);
		if (id == -ENOSPC)
			id = idr_alloc(&idr, &live[k], 1, SPACE);
		assert_true(id > 0);
		assert_null(ref[id]);
		ref[id] = &live[k];
		live[k] = id;
		if (!(round % 1024))
			idr_reclaim(&idr);
	}
	assert_int_equal(idr_count(&idr), LIVE);
	n = 0;
	idr_for_each_entry(&idr, entry, id) {
		assert_ptr_equal(entry, ref[id]);
		n++;
	}
	assert_int_equal(n, LIVE);
	for (id = 0; id < SPACE; id += 7)
		assert_ptr_equal(idr_find(&idr, id), ref[id]);
	idr_destroy(&idr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_lowest_free),
		cmocka_unit_test(test_alloc_cyclic),
		cmocka_unit_test(test_cyclic_wraps),
		cmocka_unit_test(test_top_of_range),
		cmocka_unit_test(test_reserved_null),
		cmocka_unit_test(test_get_next_in_order),
		cmocka_unit_test(test_full_leaf),
		cmocka_unit_test(test_random_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
