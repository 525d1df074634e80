// SPDX-License-Identifier: MIT
/*
 * map_batch.c - kdiff scenario: the batch commands (LOOKUP_BATCH, LOOKUP_AND_DELETE_BATCH,
 * UPDATE_BATCH, DELETE_BATCH) on an array and a hash. An array answers in key order, chunk by
 * chunk, with the position to resume from; a hash answers in bucket order, which is the
 * implementation's, so the hash cases ask for everything in one call and print the keys sorted.
 * Also: the flag and count rules, and the commands a map type does not have.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

#define MAXN 16

static int cmp_pair(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* Prints the count and the key=value pairs a batch answered with (sorted for hashes). */
static void print_batch(const __u32 *keys, const __u64 *vals, __u32 count, bool sort_keys)
{
	__u32 pairs[MAXN][3], i;

	for (i = 0; i < count && i < MAXN; i++) {
		pairs[i][0] = keys[i];
		memcpy(&pairs[i][1], &vals[i], sizeof(vals[i]));
	}
	if (sort_keys)
		qsort(pairs, i, sizeof(pairs[0]), cmp_pair);
	printf("  count %u:", count);
	for (i = 0; i < count && i < MAXN; i++) {
		__u64 v;

		memcpy(&v, &pairs[i][1], sizeof(v));
		printf(" %u=%llu", pairs[i][0], (unsigned long long)v);
	}
	putchar('\n');
}

static void array_batch(void)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[MAXN], out = 0, count, i;
	__u64 vals[MAXN];
	int fd, err;

	tr_say("# ARRAY batch");
	fd = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "ab", 4, 8, 5, NULL),
		   "bpf_map_create(ARRAY, \"ab\", 4, 8, 5)");
	for (i = 0; i < 3; i++) {
		keys[i] = i + 1;
		vals[i] = 100 + i;
	}
	count = 3;
	err = tr_rc(bpf_map_update_batch(fd, keys, vals, &count, &opts),
		    "update_batch(%s, {1,2,3}, count 3)", tr_fdname(fd));
	tr_say("  count %u", count);
	keys[0] = 7;
	count = 1;
	tr_rc(bpf_map_update_batch(fd, keys, vals, &count, &opts),
	      "update_batch(%s, {7}, count 1)", tr_fdname(fd));
	tr_say("  count %u", count);

	/* Two elements at a time: 0,1 then 2,3 then 4 and the end. */
	count = 2;
	err = tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
		    "lookup_batch(%s, from start, count 2)", tr_fdname(fd));
	print_batch(keys, vals, count, false);
	tr_say("  out_batch %u", out);
	while (!err) {
		__u32 in = out;

		count = 2;
		err = tr_rc(bpf_map_lookup_batch(fd, &in, &out, keys, vals, &count, &opts),
			    "lookup_batch(%s, from %u, count 2)", tr_fdname(fd), in);
		print_batch(keys, vals, count, false);
		if (!err)
			tr_say("  out_batch %u", out);
	}
	count = 0;
	tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_batch(%s, from start, count 0)", tr_fdname(fd));
	count = 2;
	opts.elem_flags = BPF_F_LOCK;
	tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_batch(%s, elem_flags F_LOCK)", tr_fdname(fd));
	opts.elem_flags = 0;
	opts.flags = 1;
	tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_batch(%s, flags 1)", tr_fdname(fd));
	opts.flags = 0;
	count = 2;
	tr_rc(bpf_map_lookup_and_delete_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_and_delete_batch(%s, count 2)", tr_fdname(fd));
	keys[0] = 1;
	count = 1;
	tr_rc(bpf_map_delete_batch(fd, keys, &count, &opts), "delete_batch(%s, {1})",
	      tr_fdname(fd));
	tr_say("  count %u", count);
	tr_close(fd);
}

static void hash_batch(void)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[MAXN], out = 0, count, i;
	__u64 vals[MAXN];
	int fd;

	tr_say("# HASH batch");
	fd = tr_fd(bpf_map_create(BPF_MAP_TYPE_HASH, "hb", 4, 8, 8, NULL),
		   "bpf_map_create(HASH, \"hb\", 4, 8, 8)");
	count = MAXN;
	tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_batch(%s, empty, count %u)", tr_fdname(fd), MAXN);
	tr_say("  count %u", count);
	for (i = 0; i < 5; i++) {
		keys[i] = 10 * (i + 1);
		vals[i] = 1000 + i;
	}
	count = 5;
	tr_rc(bpf_map_update_batch(fd, keys, vals, &count, &opts),
	      "update_batch(%s, {10..50}, count 5)", tr_fdname(fd));
	tr_say("  count %u", count);
	opts.elem_flags = BPF_NOEXIST;
	count = 2;
	keys[0] = 60;
	keys[1] = 10;
	tr_rc(bpf_map_update_batch(fd, keys, vals, &count, &opts),
	      "update_batch(%s, {60,10}, NOEXIST)", tr_fdname(fd));
	tr_say("  count %u", count);
	opts.elem_flags = 0;
	count = MAXN;
	tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_batch(%s, count %u)", tr_fdname(fd), MAXN);
	print_batch(keys, vals, count, true);
	keys[0] = 20;
	keys[1] = 99;
	keys[2] = 30;
	count = 3;
	tr_rc(bpf_map_delete_batch(fd, keys, &count, &opts), "delete_batch(%s, {20,99,30})",
	      tr_fdname(fd));
	tr_say("  count %u", count);
	count = MAXN;
	tr_rc(bpf_map_lookup_and_delete_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_and_delete_batch(%s, count %u)", tr_fdname(fd), MAXN);
	print_batch(keys, vals, count, true);
	tr_keys(fd, true);
	tr_close(fd);
}

static void no_batch(void)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[4], out, count = 4;
	__u64 vals[4];
	int fd;

	tr_say("# a map without batch commands");
	fd = tr_fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4096, NULL),
		   "bpf_map_create(RINGBUF, \"rb\", 0, 0, 4096)");
	tr_rc(bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts),
	      "lookup_batch(%s)", tr_fdname(fd));
	tr_close(fd);
}

int main(void)
{
	tr_begin("map_batch");
	array_batch();
	hash_batch();
	no_batch();
	return tr_end();
}
