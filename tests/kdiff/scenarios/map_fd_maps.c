// SPDX-License-Identifier: MIT
/*
 * map_fd_maps.c - kdiff scenario: the maps whose values are objects, and the ring buffer.
 * prog_array, array_of_maps and hash_of_maps take fds on update and give ids on lookup from
 * userspace; they refuse the wrong kind of fd, an incompatible inner map or a program of another
 * type than the first one stored, and they accept only BPF_ANY. The ring buffer has no keys or
 * values at all: its create rules (page-multiple power of two, zero key and value sizes) and its
 * answers to element commands are checked here.
 */
#include <errno.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int create(enum bpf_map_type type, const char *name, __u32 key, __u32 value, __u32 max,
		  int inner)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = inner > 0 ? inner : 0);

	return tr_fd(bpf_map_create(type, name, key, value, max, &opts),
		     "bpf_map_create(%s, \"%s\", %u, %u, %u, inner %s)", tr_map_type(type), name,
		     key, value, max, inner > 0 ? tr_fdname(inner) : "none");
}

static int load(enum bpf_prog_type type, const char *name)
{
	return tr_fd(bpf_prog_load(type, name, "GPL", ret0, 2, NULL),
		     "bpf_prog_load(%u, \"%s\", GPL, ret0)", type, name);
}

/* Stores an fd as a value (prog and map fds are __u32 values). */
static int put(int map, __u32 key, int fd, __u64 flags)
{
	__u32 val = fd;

	return tr_rc(bpf_map_update_elem(map, &key, &val, flags), "update(%s, %u, fd %s, %llu)",
		     tr_fdname(map), key, fd >= 0 && fd != 999 ? tr_fdname(fd) : "999 (not open)",
		     (unsigned long long)flags);
}

/* A lookup from userspace answers with the id of the stored object. */
static void get(int map, __u32 key, enum tr_kind kind)
{
	__u32 id = 0;
	int err = bpf_map_lookup_elem(map, &key, &id);

	if (err)
		tr_rc(err, "lookup(%s, %u)", tr_fdname(map), key);
	else
		tr_say("lookup(%s, %u) = 0, id %s", tr_fdname(map), key, tr_id(kind, id));
}

static void prog_array(void)
{
	int pa, sf, sf2, xdp, fd;

	tr_say("# PROG_ARRAY");
	fd = create(BPF_MAP_TYPE_PROG_ARRAY, "e", 4, 8, 4, 0);
	if (fd >= 0)
		close(fd);
	pa = create(BPF_MAP_TYPE_PROG_ARRAY, "pa", 4, 4, 4, 0);
	sf = load(BPF_PROG_TYPE_SOCKET_FILTER, "sf");
	sf2 = load(BPF_PROG_TYPE_SOCKET_FILTER, "sf2");
	xdp = load(BPF_PROG_TYPE_XDP, "xdp");
	tr_obj_id(TR_PROG, sf);
	tr_obj_id(TR_PROG, sf2);
	tr_obj_id(TR_PROG, xdp);
	get(pa, 0, TR_PROG);
	put(pa, 0, sf, BPF_ANY);
	get(pa, 0, TR_PROG);
	put(pa, 1, sf2, BPF_NOEXIST);
	put(pa, 1, sf2, BPF_EXIST);
	put(pa, 1, xdp, BPF_ANY);
	put(pa, 1, pa, BPF_ANY);
	put(pa, 1, 999, BPF_ANY);
	put(pa, 4, sf, BPF_ANY);
	put(pa, 1, sf2, BPF_ANY);
	tr_keys(pa, false);
	tr_fdinfo(pa);
	tr_map_info(pa);
	tr_delete(pa, 0);
	tr_delete(pa, 0);
	tr_delete(pa, 9);
	get(pa, 0, TR_PROG);
	tr_lookup_and_delete(pa, 1);
	tr_close(xdp);
	tr_close(sf2);
	tr_close(sf);
	tr_close(pa);
}

static void map_in_map(enum bpf_map_type type)
{
	int inner, inner2, other, outer, fd;

	tr_say("# %s", tr_map_type(type));
	inner = create(BPF_MAP_TYPE_ARRAY, "in", 4, 8, 2, 0);
	inner2 = create(BPF_MAP_TYPE_ARRAY, "in2", 4, 8, 2, 0);
	other = create(BPF_MAP_TYPE_HASH, "oth", 4, 8, 2, 0);
	tr_obj_id(TR_MAP, inner);
	tr_obj_id(TR_MAP, inner2);
	fd = create(type, "e", 4, 4, 2, 0);
	if (fd >= 0)
		close(fd);
	fd = create(type, "e", 4, 8, 2, inner);
	if (fd >= 0)
		close(fd);
	outer = create(type, "out", 4, 4, 2, inner);
	tr_map_info(outer);
	tr_fdinfo(outer);
	get(outer, 0, TR_MAP);
	put(outer, 0, inner, BPF_ANY);
	get(outer, 0, TR_MAP);
	put(outer, 1, inner2, BPF_NOEXIST);
	put(outer, 1, other, BPF_ANY);
	put(outer, 1, outer, BPF_ANY);
	put(outer, 1, 999, BPF_ANY);
	put(outer, 1, inner2, BPF_ANY);
	get(outer, 1, TR_MAP);
	tr_keys(outer, type == BPF_MAP_TYPE_HASH_OF_MAPS);
	tr_delete(outer, 0);
	tr_delete(outer, 0);
	tr_close(outer);
	tr_close(other);
	tr_close(inner2);
	tr_close(inner);
}

static void ringbuf(void)
{
	long page = sysconf(_SC_PAGESIZE);
	__u32 next;
	int fd;

	tr_say("# RINGBUF");
	fd = create(BPF_MAP_TYPE_RINGBUF, "e", 0, 0, 1000, 0);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_RINGBUF, "e", 0, 0, 3 * page, 0);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_RINGBUF, "e", 4, 0, page, 0);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_RINGBUF, "e", 0, 8, page, 0);
	if (fd >= 0)
		close(fd);
	fd = create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4 * page, 0);
	tr_map_info(fd);
	tr_fdinfo(fd);
	tr_rc(bpf_map_lookup_elem(fd, NULL, NULL), "lookup(%s, NULL)", tr_fdname(fd));
	tr_rc(bpf_map_update_elem(fd, NULL, NULL, 0), "update(%s, NULL, NULL)", tr_fdname(fd));
	tr_rc(bpf_map_delete_elem(fd, NULL), "delete(%s, NULL)", tr_fdname(fd));
	tr_rc(bpf_map_get_next_key(fd, NULL, &next), "get_next_key(%s, NULL)", tr_fdname(fd));
	tr_rc(bpf_map_freeze(fd), "bpf_map_freeze(%s)", tr_fdname(fd));
	tr_close(fd);
}

int main(void)
{
	tr_begin("map_fd_maps");
	prog_array();
	map_in_map(BPF_MAP_TYPE_ARRAY_OF_MAPS);
	map_in_map(BPF_MAP_TYPE_HASH_OF_MAPS);
	ringbuf();
	return tr_end();
}
