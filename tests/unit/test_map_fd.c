// SPDX-License-Identifier: MIT
/*
 * test_map_fd.c - maps whose values are objects: PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS.
 * A fake fd table plays the syscall layer (struct bpf_map_obj_ops): programs are counted
 * objects, so the tests see every reference taken and dropped. Errnos as Linux 6.18
 * answered them through bpf() (measured), with real programs and maps behind the fds.
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

struct fake_prog {
	int refcnt;
	uint32_t id;
	uint32_t type;
};

enum { FD_NONE, FD_MAP, FD_PROG, FD_OTHER };
#define NR_FDS 32
static struct {
	int kind;
	void *obj;
} fds[NR_FDS];
static int maps_freed;

static int fake_map_get(void *ctx, int ufd, struct bpf_map **map)
{
	(void)ctx;
	if (ufd < 0 || ufd >= NR_FDS || fds[ufd].kind == FD_NONE)
		return -EBADF;
	if (fds[ufd].kind != FD_MAP)
		return -EINVAL;
	bpf_map_inc(fds[ufd].obj);
	*map = fds[ufd].obj;
	return 0;
}

static int fake_prog_get(void *ctx, int ufd, void **prog)
{
	(void)ctx;
	if (ufd < 0 || ufd >= NR_FDS || fds[ufd].kind == FD_NONE)
		return -EBADF;
	if (fds[ufd].kind != FD_PROG)
		return -EINVAL;
	__atomic_fetch_add(&((struct fake_prog *)fds[ufd].obj)->refcnt, 1, __ATOMIC_SEQ_CST);
	*prog = fds[ufd].obj;
	return 0;
}

static void fake_prog_put(void *prog)
{
	__atomic_fetch_sub(&((struct fake_prog *)prog)->refcnt, 1, __ATOMIC_SEQ_CST);
}

static uint32_t fake_prog_id(const void *prog)
{
	return ((const struct fake_prog *)prog)->id;
}

static uint32_t fake_prog_type(const void *prog)
{
	return ((const struct fake_prog *)prog)->type;
}

static void fake_map_free_id(void *ctx, struct bpf_map *map)
{
	(void)ctx, (void)map;
	__atomic_fetch_add(&maps_freed, 1, __ATOMIC_SEQ_CST);
}

static const struct bpf_map_obj_ops obj_ops = {
	.map_get = fake_map_get,
	.prog_get = fake_prog_get,
	.prog_put = fake_prog_put,
	.prog_id = fake_prog_id,
	.prog_type = fake_prog_type,
	.map_free_id = fake_map_free_id,
};
static const struct bpf_map_env env = { .nr_cpus = 2, .obj_ops = &obj_ops };

static struct fake_prog socket_prog1 = { .refcnt = 1,
					 .id = 101,
					 .type = BPF_PROG_TYPE_SOCKET_FILTER };
static struct fake_prog socket_prog2 = { .refcnt = 1,
					 .id = 102,
					 .type = BPF_PROG_TYPE_SOCKET_FILTER };
static struct fake_prog xdp_prog = { .refcnt = 1, .id = 103, .type = BPF_PROG_TYPE_XDP };

static int fd_of(int kind, void *obj)
{
	for (int fd = 3; fd < NR_FDS; fd++)
		if (fds[fd].kind == FD_NONE) {
			fds[fd].kind = kind;
			fds[fd].obj = obj;
			return fd;
		}
	fail_msg("fd table full");
	return -1;
}

/* A map and an fd to it; the fd holds the creator's reference. */
static int new_map_fd(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
		      int inner_fd, uint32_t id)
{
	union bpf_attr attr;
	struct bpf_map *map;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = ks;
	attr.value_size = vs;
	attr.max_entries = max;
	attr.map_flags = flags;
	attr.inner_map_fd = (uint32_t)inner_fd;
	assert_int_equal(bpf_map_alloc(&attr, &env, &map), 0);
	map->id = id;
	return fd_of(FD_MAP, map);
}

static struct bpf_map *map_of(int fd)
{
	return fds[fd].obj;
}

static void close_fd(int fd)
{
	if (fds[fd].kind == FD_MAP)
		bpf_map_put_with_uref(fds[fd].obj);
	fds[fd].kind = FD_NONE;
}

static int setup(void **state)
{
	(void)state;
	memset(fds, 0, sizeof(fds));
	fds[0].kind = FD_OTHER; /* stdin: open, neither a map nor a program */
	socket_prog1.refcnt = socket_prog2.refcnt = xdp_prog.refcnt = 1;
	maps_freed = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int fd = 0; fd < NR_FDS; fd++)
		close_fd(fd);
	urcu_memb_barrier();
	return 0;
}

static int update_fd(struct bpf_map *map, uint32_t key, int fd, uint64_t flags)
{
	uint32_t value = (uint32_t)fd;

	return bpf_map_update_value(map, &key, &value, flags);
}

static int lookup_id(struct bpf_map *map, uint32_t key, uint32_t *id)
{
	return bpf_map_copy_value(map, &key, id, 0);
}

static int delete_key(struct bpf_map *map, uint32_t key)
{
	return bpf_map_delete_value(map, &key);
}

/* PROG_ARRAY 4 entries (measured on 6.18 with real programs) */
static void test_prog_array(void **state)
{
	int pa = new_map_fd(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, 0, 1);
	int p1 = fd_of(FD_PROG, &socket_prog1), p2 = fd_of(FD_PROG, &socket_prog2);
	int px = fd_of(FD_PROG, &xdp_prog);
	struct bpf_map *map = map_of(pa);
	uint32_t id, keys[4], vals[4], out, k;
	union bpf_attr a;

	(void)state;
	assert_int_equal(lookup_id(map, 0, &id), -ENOENT);
	assert_int_equal(update_fd(map, 0, p1, BPF_NOEXIST), -EINVAL); /* BPF_ANY only */
	assert_int_equal(update_fd(map, 0, p1, BPF_ANY), 0);
	assert_int_equal(socket_prog1.refcnt, 2);
	assert_int_equal(lookup_id(map, 0, &id), 0);
	assert_int_equal(id, 101);
	assert_int_equal(update_fd(map, 1, px, BPF_ANY), -EINVAL); /* another program type */
	assert_int_equal(xdp_prog.refcnt, 1);
	assert_int_equal(update_fd(map, 1, p2, BPF_ANY), 0);
	assert_int_equal(update_fd(map, 1, pa, BPF_ANY), -EINVAL); /* a map */
	assert_int_equal(update_fd(map, 1, 0, BPF_ANY), -EINVAL);  /* not a bpf object */
	assert_int_equal(update_fd(map, 1, 29, BPF_ANY), -EBADF);
	assert_int_equal(update_fd(map, 9, 29, BPF_ANY), -E2BIG);      /* index before the fd */
	assert_int_equal(update_fd(map, 9, 29, BPF_NOEXIST), -EINVAL); /* flags before both */
	assert_int_equal(delete_key(map, 9), -E2BIG);
	assert_int_equal(delete_key(map, 2), -ENOENT);
	assert_int_equal(lookup_id(map, 9, &id), -ENOENT);

	/* programs only tail-call through it: the data path sees no value */
	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	k = 1;
	assert_null(map->ops->map_lookup_elem(map, &k));
	assert_ptr_equal(bpf_prog_array_map_lookup(map, 1), &socket_prog2);
	assert_null(bpf_prog_array_map_lookup(map, 2));
	assert_null(bpf_prog_array_map_lookup(map, 4));
	urcu_memb_read_unlock();

	/* replacing and deleting drop the old program after a grace period */
	assert_int_equal(update_fd(map, 1, p1, BPF_ANY), 0);
	urcu_memb_barrier();
	assert_int_equal(socket_prog2.refcnt, 1);
	assert_int_equal(socket_prog1.refcnt, 3);
	assert_int_equal(delete_key(map, 1), 0);
	urcu_memb_barrier();
	assert_int_equal(socket_prog1.refcnt, 2);

	a = (union bpf_attr){ .batch = { .keys = (uintptr_t)keys,
					 .values = (uintptr_t)vals,
					 .out_batch = (uintptr_t)&out,
					 .count = 4 } };
	assert_int_equal(bpf_map_do_batch(map, BPF_MAP_LOOKUP_BATCH, &a, NULL), -ENOTSUPP);
	assert_int_equal(bpf_map_lookup_and_delete_value(map, &k, &id, 0), -ENOTSUPP);
	assert_int_equal(bpf_map_freeze(map, BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE), 0);

	/* the last fd goes: the array lets go of its programs (prog_array_map_clear) */
	bpf_map_inc(map); /* as a program using it would */
	close_fd(pa);
	urcu_memb_barrier();
	assert_int_equal(socket_prog1.refcnt, 1);
	assert_int_equal(maps_freed, 0);
	bpf_map_put(map);
	assert_int_equal(maps_freed, 1);
}

/* The first program fixes the owner type (bpf_prog_map_compatible). */
static void test_prog_array_owner(void **state)
{
	int pa = new_map_fd(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0, 0, 1);
	int px = fd_of(FD_PROG, &xdp_prog), p1 = fd_of(FD_PROG, &socket_prog1);

	(void)state;
	assert_true(bpf_map_prog_compatible(map_of(pa), BPF_PROG_TYPE_XDP)); /* a user loads */
	assert_int_equal(update_fd(map_of(pa), 0, p1, BPF_ANY), -EINVAL);
	assert_int_equal(update_fd(map_of(pa), 0, px, BPF_ANY), 0);
	assert_false(bpf_map_prog_compatible(map_of(pa), BPF_PROG_TYPE_SOCKET_FILTER));
	close_fd(pa);
	urcu_memb_barrier();
	assert_int_equal(xdp_prog.refcnt, 1);
}

/* ARRAY_OF_MAPS over ARRAY 4/4/1 (measured on 6.18) */
static void test_array_of_maps(void **state)
{
	int in = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 0, 76);
	int in2 = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, 0, 77);
	int in3 = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 2, 0, 0, 78);
	int hh = new_map_fd(BPF_MAP_TYPE_HASH, 4, 4, 1, 0, 0, 79);
	int aom = new_map_fd(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, in, 80);
	int p1 = fd_of(FD_PROG, &socket_prog1);
	struct bpf_map *map = map_of(aom), *inner = map_of(in);
	uint32_t id, k;

	(void)state;
	assert_int_equal(lookup_id(map, 0, &id), -ENOENT);
	assert_int_equal(update_fd(map, 0, in, BPF_ANY), 0);
	assert_int_equal(atomic_load(&inner->refcnt), 2);
	assert_int_equal(lookup_id(map, 0, &id), 0);
	assert_int_equal(id, 76);
	assert_int_equal(update_fd(map, 0, in2, BPF_ANY), -EINVAL); /* value size */
	assert_int_equal(update_fd(map, 0, in3, BPF_ANY), -EINVAL); /* max_entries */
	assert_int_equal(update_fd(map, 0, hh, BPF_ANY), -EINVAL);  /* type */
	assert_int_equal(update_fd(map, 0, aom, BPF_ANY), -EINVAL);
	assert_int_equal(update_fd(map, 0, p1, BPF_ANY), -EINVAL); /* a program */
	assert_int_equal(update_fd(map, 0, 29, BPF_ANY), -EBADF);
	assert_int_equal(update_fd(map, 0, 0, BPF_ANY), -EINVAL);
	assert_int_equal(update_fd(map, 0, in, BPF_NOEXIST), -EINVAL);
	assert_int_equal(update_fd(map, 0, in, BPF_EXIST), -EINVAL);
	assert_int_equal(update_fd(map, 0, in, 3), -EINVAL);
	assert_int_equal(update_fd(map, 0, 29, BPF_F_LOCK | BPF_NOEXIST), -EINVAL);
	assert_int_equal(update_fd(map, 2, in, BPF_ANY), -E2BIG);
	assert_int_equal(atomic_load(&inner->refcnt), 2); /* failures keep nothing */
	assert_int_equal(delete_key(map, 2), -E2BIG);
	assert_int_equal(delete_key(map, 1), -ENOENT);
	assert_int_equal(bpf_map_lookup_and_delete_value(map, &k, &id, 0), -ENOTSUPP);

	/* programs get the inner map itself */
	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	k = 0;
	assert_ptr_equal(map->ops->map_lookup_elem(map, &k), inner);
	k = 1;
	assert_null(map->ops->map_lookup_elem(map, &k));
	k = 0;
	assert_int_equal(map->ops->map_update_elem(map, &k, &k, BPF_ANY), -EINVAL);
	urcu_memb_read_unlock();

	/* the inner map outlives its fd while the outer holds it, then goes */
	close_fd(in);
	assert_int_equal(atomic_load(&inner->refcnt), 1);
	assert_int_equal(maps_freed, 0);
	assert_int_equal(delete_key(map, 0), 0);
	bpf_map_maybe_wait_programs(map);
	urcu_memb_barrier();
	assert_int_equal(maps_freed, 1);
	assert_int_equal(bpf_map_freeze(map, BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE), 0);
}

/* BPF_F_INNER_MAP: arrays of any size fit, others must have the flag too (measured). */
static void test_inner_map_flag(void **state)
{
	int in4 = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_INNER_MAP, 0, 1);
	int in5 = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 7, BPF_F_INNER_MAP, 0, 2);
	int in = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 0, 3);
	int aom = new_map_fd(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, in4, 4);

	(void)state;
	assert_int_equal(update_fd(map_of(aom), 0, in5, BPF_ANY), 0);
	assert_int_equal(update_fd(map_of(aom), 0, in, BPF_ANY), -EINVAL);
}

/* HASH_OF_MAPS max 2 over ARRAY 4/4/1 (measured on 6.18) */
static void test_hash_of_maps(void **state)
{
	int in = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 0, 76);
	int in2 = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, 0, 77);
	int in3 = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 2, 0, 0, 78);
	int hom = new_map_fd(BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0, in, 80);
	struct bpf_map *map = map_of(hom), *inner = map_of(in);
	uint32_t id, k;

	(void)state;
	assert_int_equal(update_fd(map, 0, in, BPF_EXIST), -ENOENT);
	assert_int_equal(update_fd(map, 0, in, BPF_ANY), 0);
	assert_int_equal(update_fd(map, 0, in, BPF_NOEXIST), -EEXIST);
	assert_int_equal(update_fd(map, 0, in2, BPF_ANY), -EINVAL);
	assert_int_equal(update_fd(map, 0, in3, BPF_ANY), -EINVAL);
	assert_int_equal(update_fd(map, 0, in, 3), -EINVAL);
	assert_int_equal(update_fd(map, 0, in, BPF_F_LOCK), -EINVAL);
	assert_int_equal(lookup_id(map, 0, &id), 0);
	assert_int_equal(id, 76);
	assert_int_equal(update_fd(map, 0, in, BPF_ANY), 0); /* in place: the old ref goes */
	assert_int_equal(update_fd(map, 1, in, BPF_ANY), 0);
	assert_int_equal(update_fd(map, 2, in, BPF_ANY), -E2BIG);
	assert_int_equal(update_fd(map, 2, 0, BPF_ANY), -EINVAL);
	assert_int_equal(update_fd(map, 2, 29, BPF_EXIST), -EBADF); /* the fd before the flags */
	k = 1;
	assert_int_equal(bpf_map_lookup_and_delete_value(map, &k, &id, 0), -ENOTSUPP);
	urcu_memb_barrier();
	assert_int_equal(atomic_load(&inner->refcnt), 3); /* the fd and two elements */

	bpf_rcu_thread_online();
	urcu_memb_read_lock();
	k = 1;
	assert_ptr_equal(map->ops->map_lookup_elem(map, &k), inner);
	k = 5;
	assert_null(map->ops->map_lookup_elem(map, &k));
	urcu_memb_read_unlock();

	assert_int_equal(delete_key(map, 1), 0);
	assert_int_equal(delete_key(map, 1), -ENOENT);
	urcu_memb_barrier();
	assert_int_equal(atomic_load(&inner->refcnt), 2);

	/* freeing the outer map drops the rest */
	close_fd(hom);
	assert_int_equal(atomic_load(&inner->refcnt), 1);
}

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

/* Batches of map-in-map: fds in, ids out (measured on 6.18). */
static void test_map_in_map_batch(void **state)
{
	int in = new_map_fd(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 0, 76);
	int aom = new_map_fd(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0, in, 80);
	int hom = new_map_fd(BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, 0, in, 81);
	uint32_t keys[4], vals[4], out;
	union bpf_attr a;

	(void)state;
	/* empty slots are skipped by the generic lookup */
	a = (union bpf_attr){ .batch = { .keys = (uintptr_t)keys,
					 .values = (uintptr_t)vals,
					 .out_batch = (uintptr_t)&out,
					 .count = 4 } };
	assert_int_equal(bpf_map_do_batch(map_of(aom), BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 0);

	keys[0] = 0;
	vals[0] = (uint32_t)in;
	a = (union bpf_attr){
		.batch = { .keys = (uintptr_t)keys, .values = (uintptr_t)vals, .count = 1 }
	};
	assert_int_equal(bpf_map_do_batch(map_of(aom), BPF_MAP_UPDATE_BATCH, &a, &ua), 0);
	assert_int_equal(bpf_map_do_batch(map_of(hom), BPF_MAP_UPDATE_BATCH, &a, &ua), 0);

	a = (union bpf_attr){ .batch = { .keys = (uintptr_t)keys,
					 .values = (uintptr_t)vals,
					 .out_batch = (uintptr_t)&out,
					 .count = 4 } };
	assert_int_equal(bpf_map_do_batch(map_of(aom), BPF_MAP_LOOKUP_BATCH, &a, &ua), -ENOENT);
	assert_int_equal(a.batch.count, 1);
	assert_int_equal(vals[0], 76);
	assert_int_equal(out, 1);
	vals[0] = 0;
	a = (union bpf_attr){ .batch = { .keys = (uintptr_t)keys,
					 .values = (uintptr_t)vals,
					 .out_batch = (uintptr_t)&out,
					 .count = 4 } };
	assert_int_equal(bpf_map_do_batch(map_of(hom), BPF_MAP_LOOKUP_AND_DELETE_BATCH, &a, &ua),
			 -ENOENT);
	assert_int_equal(a.batch.count, 1);
	assert_int_equal(vals[0], 76);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prog_array, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prog_array_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_array_of_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inner_map_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_of_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_in_map_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
