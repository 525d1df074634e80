// SPDX-License-Identifier: MIT
/*
 * test_map_ringbuf.c - BPF_MAP_TYPE_RINGBUF: the helpers a program calls, and a consumer
 * that reads the ring the way libbpf's ring_buffer__poll does, through the two user-space
 * mappings libbpf makes (consumer page read-write at offset 0; producer page and the
 * doubly mapped data read-only at one page). mmap errnos measured on Linux 6.18.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/map.h"

#define PAGE 4096u

static const struct bpf_map_env env = { .nr_cpus = 2 };

static struct bpf_map *new_ringbuf(uint32_t size)
{
	union bpf_attr attr;
	struct bpf_map *map;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_RINGBUF;
	attr.max_entries = size;
	assert_int_equal(bpf_map_alloc(&attr, &env, &map), 0);
	return map;
}

/* What libbpf maps: ring_buffer__add. */
struct view {
	uint64_t size;
	_Atomic uint64_t *consumer_pos;
	_Atomic uint64_t *producer_pos;
	uint8_t *data;
	void *cons_map, *prod_map;
};

static void view_open(struct bpf_map *map, struct view *v)
{
	v->size = map->max_entries;
	assert_int_equal(
		bpf_map_mmap(map, NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &v->cons_map),
		0);
	assert_int_equal(bpf_map_mmap(map, NULL, PAGE + 2 * v->size, PROT_READ, MAP_SHARED, PAGE,
				      &v->prod_map),
			 0);
	v->consumer_pos = v->cons_map;
	v->producer_pos = v->prod_map;
	v->data = (uint8_t *)v->prod_map + PAGE;
}

static void view_close(struct bpf_map *map, struct view *v)
{
	munmap(v->cons_map, PAGE);
	bpf_map_mmap_close(map, true);
	munmap(v->prod_map, PAGE + 2 * v->size);
	bpf_map_mmap_close(map, false);
}

typedef void (*sample_cb)(void *ctx, const uint8_t *data, uint32_t len);

/* libbpf's ringbuf_process_ring: stops at a busy record, skips discarded ones. */
static int consume(struct view *v, sample_cb cb, void *ctx)
{
	uint64_t cons_pos, prod_pos;
	int n = 0;
	bool got_new;

	cons_pos = atomic_load_explicit(v->consumer_pos, memory_order_acquire);
	do {
		got_new = false;
		prod_pos = atomic_load_explicit(v->producer_pos, memory_order_acquire);
		while (cons_pos < prod_pos) {
			_Atomic uint32_t *len_ptr = (void *)(v->data + (cons_pos & (v->size - 1)));
			uint32_t len = atomic_load_explicit(len_ptr, memory_order_acquire);

			if (len & BPF_RINGBUF_BUSY_BIT)
				return n;
			got_new = true;
			cons_pos += BPF_MAP_ROUND_UP(
				(len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ, 8);
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				cb(ctx, (uint8_t *)len_ptr + BPF_RINGBUF_HDR_SZ, len);
				n++;
			}
			atomic_store_explicit(v->consumer_pos, cons_pos, memory_order_release);
		}
	} while (got_new);
	return n;
}

struct collected {
	int n;
	uint32_t len[64];
	uint8_t first[64], last[64];
};

static void collect(void *ctx, const uint8_t *data, uint32_t len)
{
	struct collected *c = ctx;

	if (c->n < 64) {
		c->len[c->n] = len;
		c->first[c->n] = len ? data[0] : 0;
		c->last[c->n] = len ? data[len - 1] : 0;
	}
	/* every byte of a sample is its first byte: a wrapped record must read contiguous */
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(data[i], data[0]);
	c->n++;
}

static bool wakeup_pending(struct bpf_map *map)
{
	uint64_t cnt;

	return read(bpf_ringbuf_wakeup_fd(map), &cnt, sizeof(cnt)) == sizeof(cnt);
}

/* Rings have no elements (measured: every element command is -ENOTSUPP, 524). */
static void test_ringbuf_no_elements(void **state)
{
	struct bpf_map *map = new_ringbuf(PAGE);
	uint32_t k = 0, v, nk;
	union bpf_attr a;

	(void)state;
	assert_int_equal(bpf_map_copy_value(map, NULL, &v, 0), -ENOTSUPP);
	assert_int_equal(bpf_map_update_value(map, &k, &v, 0), -ENOTSUPP);
	assert_int_equal(bpf_map_delete_value(map, &k), -ENOTSUPP);
	assert_int_equal(bpf_map_next_key(map, NULL, &nk), -ENOTSUPP);
	memset(&a, 0, sizeof(a));
	a.batch.count = 1;
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, NULL), -ENOTSUPP);
	assert_int_equal(bpf_map_freeze(map, BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE), 0);
	bpf_map_put_with_uref(map);
}

/*
 * A map keeps no fd: the process gets the fd numbers the kernel would give it (a kdiff
 * transcript caught a ring shifting them by two).
 */
static void test_ringbuf_no_fd(void **state)
{
	struct bpf_map *rb, *array;
	union bpf_attr attr;
	int before, after;
	void *m;

	(void)state;
	before = dup(0);
	close(before);
	rb = new_ringbuf(PAGE);
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	attr.map_flags = BPF_F_MMAPABLE;
	assert_int_equal(bpf_map_alloc(&attr, &env, &array), 0);
	assert_int_equal(bpf_map_mmap(array, NULL, PAGE, PROT_READ, MAP_SHARED, 0, &m), 0);
	after = dup(0);
	close(after);
	assert_int_equal(after, before);
	munmap(m, PAGE);
	bpf_map_put_with_uref(array);
	bpf_map_put_with_uref(rb);
}

/* ringbuf_map_mmap: only the consumer page may be writable (measured on 6.18). */
static void test_ringbuf_mmap(void **state)
{
	const int rw = PROT_READ | PROT_WRITE;
	struct bpf_map *map = new_ringbuf(2 * PAGE);
	void *m;

	(void)state;
	assert_int_equal(bpf_map_mmap(map, NULL, 2 * PAGE, rw, MAP_SHARED, 0, &m), -EPERM);
	assert_int_equal(bpf_map_mmap(map, NULL, PAGE, rw, MAP_SHARED, PAGE, &m), -EPERM);
	assert_int_equal(bpf_map_mmap(map, NULL, PAGE, PROT_READ, MAP_PRIVATE, 0, &m), -EINVAL);
	assert_int_equal(bpf_map_mmap(map, NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, 0, &m),
			 -EPERM);
	/* the view is 2 position pages and the data twice: 6 pages for 2 data pages */
	assert_int_equal(bpf_map_mmap(map, NULL, 6 * PAGE, PROT_READ, MAP_SHARED, 0, &m), 0);
	munmap(m, 6 * PAGE);
	assert_int_equal(bpf_map_mmap(map, NULL, 7 * PAGE, PROT_READ, MAP_SHARED, 0, &m), -EINVAL);
	assert_int_equal(bpf_map_mmap(map, NULL, 5 * PAGE + 1, PROT_READ, MAP_SHARED, PAGE, &m),
			 -EINVAL);
	assert_int_equal(bpf_map_mmap(map, NULL, PAGE, PROT_READ, MAP_SHARED, 5 * PAGE, &m), 0);
	munmap(m, PAGE);
	assert_int_equal(bpf_map_mmap(map, NULL, PAGE, PROT_READ, MAP_SHARED, 6 * PAGE, &m),
			 -EINVAL);
	bpf_map_put_with_uref(map);
}

static void test_ringbuf_produce_consume(void **state)
{
	struct bpf_map *map = new_ringbuf(PAGE);
	struct collected c = { 0 };
	struct view v;
	uint8_t *s;

	(void)state;
	view_open(map, &v);
	assert_true(bpf_ringbuf_wakeup_fd(map) >= 0); /* what a poller sets up first */
	assert_int_equal(bpf_ringbuf_wakeup_fd(map), bpf_ringbuf_wakeup_fd(map));
	assert_int_equal(bpf_ringbuf_query(map, BPF_RB_RING_SIZE), PAGE);
	assert_int_equal(bpf_ringbuf_query(map, BPF_RB_AVAIL_DATA), 0);
	assert_false(bpf_ringbuf_has_data(map));

	s = bpf_ringbuf_reserve(map, 10, 0);
	assert_non_null(s);
	memset(s, 'a', 10);
	/* reserved, not committed: the consumer stops there */
	assert_int_equal(consume(&v, collect, &c), 0);
	assert_int_equal(bpf_ringbuf_query(map, BPF_RB_PROD_POS), 24); /* 8 + round_up(10, 8) */
	assert_true(bpf_ringbuf_has_data(map));
	assert_int_equal(bpf_ringbuf_submit(map, s, 0), 0);
	assert_true(wakeup_pending(map)); /* the consumer waits at this record */
	assert_int_equal(bpf_ringbuf_submit(map, s, 0), -EINVAL); /* not reserved any more */

	s = bpf_ringbuf_reserve(map, 5, 0);
	memset(s, 'b', 5);
	assert_int_equal(bpf_ringbuf_discard(map, s, 0), 0);
	assert_int_equal(bpf_ringbuf_output(map, "ccc", 3, 0), 0);
	assert_false(wakeup_pending(map)); /* the consumer is not at those records */

	assert_int_equal(consume(&v, collect, &c), 2);
	assert_int_equal(c.len[0], 10);
	assert_int_equal(c.first[0], 'a');
	assert_int_equal(c.len[1], 3);
	assert_int_equal(c.first[1], 'c');
	assert_int_equal(bpf_ringbuf_query(map, BPF_RB_CONS_POS),
			 bpf_ringbuf_query(map, BPF_RB_PROD_POS));
	assert_int_equal(bpf_ringbuf_query(map, 99), 0);

	/* wake-up flags */
	assert_int_equal(bpf_ringbuf_output(map, "d", 1, BPF_RB_NO_WAKEUP), 0);
	assert_false(wakeup_pending(map));
	assert_int_equal(bpf_ringbuf_output(map, "e", 1, BPF_RB_FORCE_WAKEUP), 0);
	assert_true(wakeup_pending(map));
	assert_int_equal(bpf_ringbuf_output(map, "f", 1, 4), -EINVAL);
	assert_null(bpf_ringbuf_reserve(map, 1, 1));
	assert_int_equal(bpf_ringbuf_submit(map, v.data, 0), -EINVAL);
	assert_int_equal(bpf_ringbuf_discard(map, (char *)s + 3, 0), -EINVAL);
	view_close(map, &v);
	bpf_map_put_with_uref(map);
}

/* Records that wrap around the end read contiguously through the double mapping. */
static void test_ringbuf_wrap(void **state)
{
	struct bpf_map *map = new_ringbuf(PAGE);
	struct collected c = { 0 };
	uint8_t buf[1000];
	struct view v;

	(void)state;
	view_open(map, &v);
	for (int i = 0; i < 40; i++) {
		memset(buf, 'A' + i % 26, sizeof(buf));
		assert_int_equal(bpf_ringbuf_output(map, buf, sizeof(buf), 0), 0);
		assert_int_equal(consume(&v, collect, &c), 1);
		assert_int_equal(c.first[i], 'A' + i % 26);
		assert_int_equal(c.last[i], 'A' + i % 26);
	}
	assert_true(bpf_ringbuf_query(map, BPF_RB_PROD_POS) > 8 * PAGE);
	view_close(map, &v);
	bpf_map_put_with_uref(map);
}

/*
 * Out of room: a record larger than the ring never fits; the producer cannot get a ring
 * ahead of the consumer, nor of the oldest record still reserved (pending_pos).
 */
static void test_ringbuf_full(void **state)
{
	struct bpf_map *map = new_ringbuf(PAGE);
	struct collected c = { 0 };
	uint8_t buf[500] = { 0 };
	struct view v;
	void *held;
	int n = 0;

	(void)state;
	view_open(map, &v);
	assert_null(bpf_ringbuf_reserve(map, PAGE, 0));
	assert_int_equal(bpf_ringbuf_output(map, buf, PAGE, 0), -EAGAIN);

	held = bpf_ringbuf_reserve(map, 8, 0);
	memset(held, 'h', 8);
	while (bpf_ringbuf_output(map, buf, sizeof(buf), 0) == 0)
		n++;
	assert_int_equal(n, 7); /* 16 + 7 × 512 bytes; an eighth would get a ring ahead */
	assert_int_equal(consume(&v, collect, &c), 0); /* blocked behind the reserved one */
	assert_int_equal(bpf_ringbuf_submit(map, held, 0), 0);
	assert_int_equal(consume(&v, collect, &c), 8);
	assert_int_equal(c.first[0], 'h');
	assert_int_equal(bpf_ringbuf_output(map, buf, sizeof(buf), 0), 0);
	view_close(map, &v);
	bpf_map_put_with_uref(map);
}

/* The header the kernel writes: len (BUSY while reserved) and the page offset of the record. */
static void test_ringbuf_header(void **state)
{
	struct bpf_map *map = new_ringbuf(2 * PAGE);
	uint32_t *hdr;
	struct view v;
	uint8_t *s;

	(void)state;
	view_open(map, &v);
	s = bpf_ringbuf_reserve(map, 12, 0);
	hdr = (uint32_t *)(s - BPF_RINGBUF_HDR_SZ);
	assert_int_equal(hdr[0], 12 | BPF_RINGBUF_BUSY_BIT);
	/* pages from the kernel's struct bpf_ringbuf: 1 header + 2 position pages */
	assert_int_equal(hdr[1], 3);
	assert_int_equal(*(uint32_t *)v.data, 12 | BPF_RINGBUF_BUSY_BIT); /* same memory */
	bpf_ringbuf_discard(map, s, 0);
	assert_int_equal(hdr[0], 12 | BPF_RINGBUF_DISCARD_BIT);
	view_close(map, &v);
	bpf_map_put_with_uref(map);
}

/* Two producers and one consumer: every record arrives once, in each producer's order. */
#define NR_RECORDS 20000

static struct bpf_map *mt_map;

static void *producer(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;

	for (uint32_t i = 0; i < NR_RECORDS; i++) {
		uint32_t rec[2] = { id, i };

		while (bpf_ringbuf_output(mt_map, rec, sizeof(rec), 0) == -EAGAIN)
			sched_yield();
	}
	return NULL;
}

struct mt_seen {
	uint32_t next[2];
	int bad;
};

static void check_order(void *ctx, const uint8_t *data, uint32_t len)
{
	struct mt_seen *seen = ctx;
	uint32_t rec[2];

	memcpy(rec, data, sizeof(rec));
	if (len != sizeof(rec) || rec[0] > 1 || rec[1] != seen->next[rec[0]])
		seen->bad++;
	else
		seen->next[rec[0]]++;
}

static void test_ringbuf_two_producers(void **state)
{
	struct mt_seen seen = { { 0, 0 }, 0 };
	pthread_t t[2];
	struct view v;

	(void)state;
	mt_map = new_ringbuf(4 * PAGE);
	view_open(mt_map, &v);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, producer, (void *)i), 0);
	while (seen.next[0] + seen.next[1] < 2 * NR_RECORDS && !seen.bad)
		if (!consume(&v, check_order, &seen))
			sched_yield();
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(seen.bad, 0);
	assert_int_equal(seen.next[0], NR_RECORDS);
	assert_int_equal(seen.next[1], NR_RECORDS);
	view_close(mt_map, &v);
	bpf_map_put_with_uref(mt_map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ringbuf_no_elements),
		cmocka_unit_test(test_ringbuf_no_fd),
		cmocka_unit_test(test_ringbuf_mmap),
		cmocka_unit_test(test_ringbuf_produce_consume),
		cmocka_unit_test(test_ringbuf_wrap),
		cmocka_unit_test(test_ringbuf_full),
		cmocka_unit_test(test_ringbuf_header),
		cmocka_unit_test(test_ringbuf_two_producers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
