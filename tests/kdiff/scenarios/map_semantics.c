// SPDX-License-Identifier: MIT
/*
 * map_semantics.c - kdiff scenario: element semantics of the plain map types (array,
 * percpu_array, hash, percpu_hash, lru_hash) as a libbpf user sees them: create errors, the
 * update flags against present and absent keys, a full hash, deleting from an array, the key walk
 * (array order exactly, hash keys as a set), lookup_and_delete, freezing and read-only fds.
 * Fd-valued maps are in map_fd_maps.c, batch operations in map_batch.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static int create(enum bpf_map_type type, const char *name, __u32 key, __u32 value, __u32 max,
		  __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);

	return tr_fd(bpf_map_create(type, name, key, value, max, &opts),
		     "bpf_map_create(%s, \"%s\", %u, %u, %u, %#x)", tr_map_type(type), name, key,
		     value, max, flags);
}

/* Create errors shared by every type: zero sizes, zero entries, unknown flags. */
static void create_errors(enum bpf_map_type type)
{
	int fd;

	fd = create(type, "e", 0, 8, 4, 0);
	if (fd >= 0)
		close(fd);
	fd = create(type, "e", 4, 0, 4, 0);
	if (fd >= 0)
		close(fd);
	fd = create(type, "e", 4, 8, 0, 0);
	if (fd >= 0)
		close(fd);
	fd = create(type, "e", 4, 8, 4, 1u << 30);
	if (fd >= 0)
		close(fd);
}

static void array(void)
{
	__u32 key, next;
	int fd;

	tr_say("# ARRAY");
	create_errors(BPF_MAP_TYPE_ARRAY);
	fd = create(BPF_MAP_TYPE_ARRAY, "e", 8, 8, 4, 0);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_ARRAY, "e", 4, 8, 4, BPF_F_NO_PREALLOC);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_ARRAY, "arr", 4, 8, 4, 0);
	tr_map_info(fd);
	tr_fdinfo(fd);
	tr_lookup(fd, 0, NULL);
	tr_update(fd, 0, 10, BPF_ANY);
	tr_update(fd, 1, 11, BPF_NOEXIST);
	tr_update(fd, 1, 11, BPF_EXIST);
	tr_update(fd, 4, 14, BPF_ANY);
	tr_update(fd, 2, 12, 99);
	tr_update(fd, 2, 12, BPF_F_LOCK);
	tr_lookup(fd, 1, NULL);
	tr_lookup(fd, 4, NULL);
	tr_delete(fd, 0);
	tr_delete(fd, 9);
	tr_lookup_and_delete(fd, 0);
	tr_next_key(fd, NULL, &next);
	key = 0;
	tr_next_key(fd, &key, &next);
	key = 3;
	tr_next_key(fd, &key, &next);
	key = 100;
	tr_next_key(fd, &key, &next);
	tr_keys(fd, false);
	tr_close(fd);
}

static void percpu_array(void)
{
	int ncpu = libbpf_num_possible_cpus(), i, fd, err;
	__u64 *vals = calloc(ncpu, sizeof(*vals));
	__u32 key = 1;
	bool same = true;

	tr_say("# PERCPU_ARRAY");
	fd = create(BPF_MAP_TYPE_PERCPU_ARRAY, "pca", 4, 4, 2, 0);
	tr_map_info(fd);
	for (i = 0; i < ncpu; i++)
		vals[i] = 100 + i;
	tr_rc(bpf_map_update_elem(fd, &key, vals, BPF_ANY), "update(%s, 1, {100+cpu...}, ANY)",
	      tr_fdname(fd));
	memset(vals, 0xff, ncpu * sizeof(*vals));
	err = tr_rc(bpf_map_lookup_elem(fd, &key, vals), "lookup(%s, 1)", tr_fdname(fd));
	/* A 4-byte value is copied out in 8-byte slots, one per possible cpu; the upper half of
	 * each slot is zero. */
	for (i = 0; !err && i < ncpu; i++)
		same &= vals[i] == (__u64)(100 + i);
	tr_say("  values %s", err ? "-" : same ? "= 100+cpu in 8-byte slots" : "DIFFER");
	tr_delete(fd, 1);
	tr_update(fd, 2, 1, BPF_ANY);
	tr_close(fd);
	free(vals);
}

static void hash(enum bpf_map_type type, const char *name)
{
	int fd;

	tr_say("# %s", tr_map_type(type));
	create_errors(type);
	fd = create(type, name, 4, 8, 3, 0);
	tr_map_info(fd);
	tr_lookup(fd, 1, NULL);
	tr_update(fd, 1, 11, BPF_NOEXIST);
	tr_update(fd, 1, 12, BPF_NOEXIST);
	tr_update(fd, 2, 22, BPF_EXIST);
	tr_update(fd, 2, 22, BPF_ANY);
	tr_update(fd, 3, 33, BPF_NOEXIST);
	tr_update(fd, 4, 44, BPF_ANY);
	tr_update(fd, 4, 44, BPF_NOEXIST);
	tr_update(fd, 1, 13, BPF_EXIST);
	tr_update(fd, 1, 14, BPF_ANY);
	tr_update(fd, 5, 55, 7);
	tr_lookup(fd, 1, NULL);
	tr_keys(fd, true);
	tr_delete(fd, 2);
	tr_delete(fd, 2);
	tr_lookup_and_delete(fd, 3);
	tr_lookup_and_delete(fd, 3);
	tr_keys(fd, true);
	tr_update(fd, 6, 66, BPF_NOEXIST);
	tr_close(fd);
}

static void hash_flags(void)
{
	__u32 key = 42, next;
	int fd;

	tr_say("# HASH flags, walk from a missing key");
	fd = create(BPF_MAP_TYPE_HASH, "np", 4, 8, 3, BPF_F_NO_PREALLOC);
	tr_map_info(fd);
	tr_update(fd, 1, 1, BPF_ANY);
	/* From a key that is not there the walk restarts at the first key (some key). */
	tr_next_key(fd, &key, &next);
	tr_close(fd);
	fd = create(BPF_MAP_TYPE_LRU_HASH, "e", 4, 8, 3, BPF_F_NO_PREALLOC);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_LRU_HASH, "nclru", 4, 8, 16, BPF_F_NO_COMMON_LRU);
	tr_map_info(fd);
	tr_close(fd);
	fd = create(BPF_MAP_TYPE_HASH, "e", 4, 8, 3, BPF_F_NO_COMMON_LRU);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_HASH, "zs", 4, 8, 3, BPF_F_ZERO_SEED);
	tr_map_info(fd);
	tr_close(fd);
}

static void freeze(void)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, ro, .open_flags = BPF_F_RDONLY);
	__u32 id;
	int fd, rofd;

	tr_say("# freeze, read-only fds");
	fd = create(BPF_MAP_TYPE_ARRAY, "frz", 4, 8, 2, 0);
	tr_update(fd, 0, 1, BPF_ANY);
	tr_rc(bpf_map_freeze(fd), "bpf_map_freeze(%s)", tr_fdname(fd));
	tr_update(fd, 0, 2, BPF_ANY);
	tr_lookup(fd, 0, NULL);
	tr_rc(bpf_map_freeze(fd), "bpf_map_freeze(%s)", tr_fdname(fd));
	tr_fdinfo(fd);
	tr_close(fd);

	fd = create(BPF_MAP_TYPE_HASH, "rdo", 4, 8, 2, BPF_F_RDONLY);
	tr_update(fd, 0, 1, BPF_ANY);
	tr_lookup(fd, 0, NULL);
	tr_close(fd);
	fd = create(BPF_MAP_TYPE_HASH, "wro", 4, 8, 2, BPF_F_WRONLY);
	tr_update(fd, 0, 1, BPF_ANY);
	tr_lookup(fd, 0, NULL);
	tr_delete(fd, 0);
	tr_close(fd);
	fd = create(BPF_MAP_TYPE_HASH, "e", 4, 8, 2, BPF_F_RDONLY | BPF_F_WRONLY);
	if (fd >= 0)
		close(fd);

	fd = create(BPF_MAP_TYPE_HASH, "rofd", 4, 8, 2, 0);
	id = tr_obj_id(TR_MAP, fd);
	rofd = tr_fd(bpf_map_get_fd_by_id_opts(id, &ro), "bpf_map_get_fd_by_id(%s, RDONLY)",
		     tr_id(TR_MAP, id));
	tr_update(rofd, 0, 1, BPF_ANY);
	tr_update(fd, 0, 1, BPF_ANY);
	tr_lookup(rofd, 0, NULL);
	tr_fdinfo(rofd);
	tr_rc(bpf_map_freeze(rofd), "bpf_map_freeze(%s)", tr_fdname(rofd));
	tr_close(rofd);
	tr_close(fd);
}

int main(void)
{
	tr_begin("map_semantics");
	array();
	percpu_array();
	hash(BPF_MAP_TYPE_HASH, "h");
	hash(BPF_MAP_TYPE_PERCPU_HASH, "pch");
	hash(BPF_MAP_TYPE_LRU_HASH, "lru");
	hash_flags();
	freeze();
	return tr_end();
}
