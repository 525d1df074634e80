// SPDX-License-Identifier: MIT
/*
 * syscall.c - the bpf() system call of a runtime: the attr size rules, CHECK_ATTR, and one
 * function per command, reached through a table indexed by command (kernel/bpf/syscall.c).
 * Commands resolve fds through fd.c, reach user memory only through uaccess.c, and call the
 * object layers: map.c (maps), prog.c (programs), btf.c (BTF), link.c (links), bpffs.c
 * (pins). Each command checks in the kernel's order, so the first failing check decides the
 * errno (KERNEL-NOTES.md §0).
 *
 * The union we compile against is the installed uapi header's (Linux 6.1): a caller built
 * against a newer header may pass a larger attr, accepted when the bytes beyond ours are
 * zero; CHECK_ATTR rejects non-zero bytes after each command's last field of that header
 * (the *_LAST_FIELD list of Linux 6.1 below). Fields newer kernels added after those (log
 * sizes, tokens, path_fd, ...) are therefore answered as a 6.1 kernel would.
 *
 * Capabilities: the runtime is a virtual kernel whose callers act with the capabilities a
 * root caller has on the host (CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON); every
 * capable() check of the kernel passes, and the code keeps none of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bpf.h"
#include "bpf-netns.h"
#include "info.h"
#include "link.h"

#define BPF_PAGE_SIZE 4096u

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* BPF_F_PREORDER of newer headers: 6.18 accepts it in PROG_ATTACH's flags. */
#ifndef BPF_F_PREORDER
#define BPF_F_PREORDER (1U << 6)
#endif

/* enum bpf_attach_type of 6.6+ headers: struct_ops links (LINK_CREATE names a map). */
#define BPF_ATTACH_STRUCT_OPS 44

/* open_flags of MAP_GET_FD_BY_ID and file_flags of OBJ_GET (the kernel's BPF_OBJ_FLAG_MASK). */
#define BPF_OBJ_FLAG_MASK (BPF_F_RDONLY | BPF_F_WRONLY)

int bpf_check_uarg_tail_zero(const void *uaddr, size_t expected_size, size_t actual_size)
{
	unsigned char tail[64];
	size_t off, n, i;

	if (actual_size > BPF_PAGE_SIZE)
		return -E2BIG;
	for (off = expected_size; off < actual_size; off += n) {
		n = actual_size - off < sizeof(tail) ? actual_size - off : sizeof(tail);
		/* integer arithmetic: uaddr may be NULL, which pointer arithmetic may not be */
		if (copy_from_user(tail, (const void *)((uintptr_t)uaddr + off), n))
			return -EFAULT;
		for (i = 0; i < n; i++)
			if (tail[i])
				return -E2BIG;
	}
	return 0;
}

/* Writes one u32 field of the caller's attr (put_user of the kernel). */
#define put_user_attr(uattr, field, val)                                                        \
	({                                                                                         \
		__typeof__((uattr)->field) __v = (val);                                            \
		copy_to_user(&(uattr)->field, &__v, sizeof(__v));                                  \
	})

/* ---- Map fds ------------------------------------------------------------------------------ */

/* The O_* flags of a map file with access @fmode (bpf_get_file_flag()'s result). */
static uint32_t bpf_map_f_flags(int fmode)
{
	if (fmode == BPF_MAP_FMODE_READ)
		return O_RDONLY;
	if (fmode == BPF_MAP_FMODE_WRITE)
		return O_WRONLY;
	return O_RDWR;
}

/* ---- The map layer's view of fds and ids ------------------------------------------- */

/* The map file behind @ufd, referenced: -EBADF, or -EINVAL for another kind (__bpf_map_get). */
static struct bpf_file *bpf_map_file_get(struct bpf_state *st, int ufd, int *err)
{
	struct bpf_file *file = bpf_fd_get(st, ufd);

	if (!file) {
		*err = bpf_fd_not_ours(st, ufd);
		return NULL;
	}
	if (file->kind != BPF_FILE_MAP) {
		bpf_file_put(file);
		*err = -EINVAL;
		return NULL;
	}
	return file;
}

static int sys_map_get(void *ctx, int ufd, struct bpf_map **map)
{
	struct bpf_file *file;
	int err;

	file = bpf_map_file_get(ctx, ufd, &err);
	if (!file)
		return err;
	*map = file->obj;
	bpf_map_inc(*map);
	bpf_file_put(file);
	return 0;
}

static int sys_prog_get(void *ctx, int ufd, void **prog)
{
	int err = 0;

	*prog = bpf_prog_from_fd(ctx, ufd, &err);
	return *prog ? 0 : err;
}

static void sys_prog_put(void *prog)
{
	bpf_prog_put(prog);
}

static uint32_t sys_prog_id(const void *prog)
{
	return bpf_prog_id(prog);
}

static uint32_t sys_prog_type(const void *prog)
{
	return bpf_prog_type(prog);
}

/* The map's last reference is gone: its id and its BTF go before the map layer frees it. */
static void sys_map_free_id(void *ctx, struct bpf_map *map)
{
	struct bpf_state *st = ctx;
	struct bpf_btf *btf = NULL;

	pthread_mutex_lock(&st->idr_lock);
	if (map->id)
		idr_remove(&st->map_idr, map->id);
	map->id = 0;
	/* The map holds a reference on its BTF, so the id still names it. */
	if (map->btf_id)
		btf = idr_find(&st->btf_idr, map->btf_id);
	map->btf_id = 0;
	pthread_mutex_unlock(&st->idr_lock);
	if (btf)
		bpf_btf_put(btf);
}

const struct bpf_map_obj_ops bpf_map_obj_ops_sys = {
	.map_get = sys_map_get,
	.prog_get = sys_prog_get,
	.prog_put = sys_prog_put,
	.prog_id = sys_prog_id,
	.prog_type = sys_prog_type,
	.map_free_id = sys_map_free_id,
};

/* ---- BPF_MAP_CREATE -------------------------------------------------------------------- */

static int bpf_map_alloc_id(struct bpf_state *st, struct bpf_map *map)
{
	int id;

	pthread_mutex_lock(&st->idr_lock);
	id = idr_alloc_cyclic(&st->map_idr, map, 1, INT_MAX);
	if (id > 0)
		map->id = (uint32_t)id;
	pthread_mutex_unlock(&st->idr_lock);
	return id > 0 ? 0 : id;
}

/* The map's BTF: a reference it keeps until freed (map_check_btf's type checks are btf.c's). */
static int bpf_map_attach_btf(struct bpf_state *st, struct bpf_map *map, const union bpf_attr *attr)
{
	struct bpf_btf *btf;
	int err = 0;

	if (!attr->btf_key_type_id && !attr->btf_value_type_id && !attr->btf_vmlinux_value_type_id)
		return 0;
	btf = bpf_btf_from_fd(st, (int)attr->btf_fd, &err);
	if (!btf)
		return err;
	map->btf_id = bpf_btf_id(btf);
	map->btf_key_type_id = attr->btf_key_type_id;
	map->btf_value_type_id = attr->btf_value_type_id;
	return 0;
}

static int bpf_cmd_map_create(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_file *file;
	struct bpf_map *map;
	int fmode, err;

	(void)uattr;
	/* Only struct_ops maps take a kernel value type; nsbpf has none. */
	if (attr->btf_vmlinux_value_type_id) {
		if (attr->map_type != BPF_MAP_TYPE_STRUCT_OPS || attr->btf_key_type_id ||
		    attr->btf_value_type_id)
			return -EINVAL;
	} else if (attr->btf_key_type_id && !attr->btf_value_type_id) {
		return -EINVAL;
	}

	/* map_extra, fd flags, numa node, type, the type's checks, allocation, name */
	err = bpf_map_alloc(attr, &st->map_env, &map);
	if (err)
		return err;
	fmode = bpf_map_fmode_from_flags(attr->map_flags);

	err = bpf_map_attach_btf(st, map, attr);
	if (err)
		goto err_put_map;

	err = bpf_map_alloc_id(st, map);
	if (err)
		goto err_put_map;

	/*
	 * From here the id is published and GET_FD_BY_ID may already hold the map: the file
	 * takes over the creation reference and uref, and a failed install drops them.
	 */
	file = bpf_file_new(BPF_FILE_MAP, map, bpf_map_f_flags(fmode));
	if (!file) {
		err = -ENOMEM;
		goto err_put_map;
	}
	return bpf_fd_install(st, file, true);

err_put_map:
	bpf_map_put_with_uref(map);
	return err;
}

/* ---- Map element commands --------------------------------------------------------------- */

/*
 * The key of an element command, copied in (__bpf_copy_key): maps without keys take none
 * (a pointer there is -EINVAL).
 */
static int bpf_copy_key(const struct bpf_map *map, uint64_t ukey, void **keyp)
{
	void *key;

	*keyp = NULL;
	if (!map->key_size)
		return ukey ? -EINVAL : 0;
	key = malloc(map->key_size);
	if (!key)
		return -ENOMEM;
	if (copy_from_user(key, u64_to_user_ptr(ukey), map->key_size)) {
		free(key);
		return -EFAULT;
	}
	*keyp = key;
	return 0;
}

static int bpf_cmd_map_lookup_elem(struct bpf_state *st, union bpf_attr *attr,
				   union bpf_attr *uattr)
{
	void *key = NULL, *value = NULL;
	struct bpf_file *file;
	struct bpf_map *map;
	uint32_t value_size;
	int err;

	(void)uattr;
	if (attr->flags & ~BPF_F_LOCK)
		return -EINVAL;
	file = bpf_map_file_get(st, (int)attr->map_fd, &err);
	if (!file)
		return err;
	map = file->obj;
	if (!(bpf_map_sys_perms(map, file->fmode) & BPF_MAP_FMODE_READ)) {
		err = -EPERM;
		goto out_put_file;
	}
	/* BPF_F_LOCK needs a bpf_spin_lock in the value (BTF): no map has one. */
	if (attr->flags & BPF_F_LOCK) {
		err = -EINVAL;
		goto out_put_file;
	}
	err = bpf_copy_key(map, attr->key, &key);
	if (err)
		goto out_put_file;

	value_size = bpf_map_value_size(map);
	value = calloc(1, value_size ? value_size : 1);
	if (!value) {
		err = -ENOMEM;
		goto out_free_key;
	}
	err = bpf_map_copy_value(map, key, value, attr->flags);
	if (err)
		goto out_free_value;
	if (copy_to_user(u64_to_user_ptr(attr->value), value, value_size))
		err = -EFAULT;

out_free_value:
	free(value);
out_free_key:
	free(key);
out_put_file:
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_map_update_elem(struct bpf_state *st, union bpf_attr *attr,
				   union bpf_attr *uattr)
{
	void *key = NULL, *value = NULL;
	struct bpf_file *file;
	struct bpf_map *map;
	uint32_t value_size;
	int err;

	(void)uattr;
	file = bpf_map_file_get(st, (int)attr->map_fd, &err);
	if (!file)
		return err;
	map = file->obj;
	bpf_map_write_active_inc(map);
	if (!(bpf_map_sys_perms(map, file->fmode) & BPF_MAP_FMODE_WRITE)) {
		err = -EPERM;
		goto out_write_dec;
	}
	if (attr->flags & BPF_F_LOCK) {
		err = -EINVAL;
		goto out_write_dec;
	}
	err = bpf_copy_key(map, attr->key, &key);
	if (err)
		goto out_write_dec;

	value_size = bpf_map_value_size(map);
	value = malloc(value_size ? value_size : 1);
	if (!value) {
		err = -ENOMEM;
		goto out_free_key;
	}
	if (copy_from_user(value, u64_to_user_ptr(attr->value), value_size)) {
		err = -EFAULT;
		goto out_free_value;
	}
	err = bpf_map_update_value(map, key, value, attr->flags);
	if (!err)
		bpf_map_maybe_wait_programs(map);

out_free_value:
	free(value);
out_free_key:
	free(key);
out_write_dec:
	bpf_map_write_active_dec(map);
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_map_delete_elem(struct bpf_state *st, union bpf_attr *attr,
				   union bpf_attr *uattr)
{
	struct bpf_file *file;
	struct bpf_map *map;
	void *key = NULL;
	int err;

	(void)uattr;
	file = bpf_map_file_get(st, (int)attr->map_fd, &err);
	if (!file)
		return err;
	map = file->obj;
	bpf_map_write_active_inc(map);
	if (!(bpf_map_sys_perms(map, file->fmode) & BPF_MAP_FMODE_WRITE)) {
		err = -EPERM;
		goto out_write_dec;
	}
	err = bpf_copy_key(map, attr->key, &key);
	if (err)
		goto out_write_dec;
	err = bpf_map_delete_value(map, key);
	if (!err)
		bpf_map_maybe_wait_programs(map);
	free(key);
out_write_dec:
	bpf_map_write_active_dec(map);
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_map_get_next_key(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	void *key = NULL, *next_key = NULL;
	struct bpf_file *file;
	struct bpf_map *map;
	int err;

	(void)uattr;
	file = bpf_map_file_get(st, (int)attr->map_fd, &err);
	if (!file)
		return err;
	map = file->obj;
	if (!(bpf_map_sys_perms(map, file->fmode) & BPF_MAP_FMODE_READ)) {
		err = -EPERM;
		goto out_put_file;
	}
	/* No key: the first one. */
	if (attr->key) {
		err = bpf_copy_key(map, attr->key, &key);
		if (err)
			goto out_put_file;
	}
	next_key = malloc(map->key_size ? map->key_size : 1);
	if (!next_key) {
		err = -ENOMEM;
		goto out_free_key;
	}
	err = bpf_map_next_key(map, key, next_key);
	if (err)
		goto out_free_next_key;
	if (copy_to_user(u64_to_user_ptr(attr->next_key), next_key, map->key_size))
		err = -EFAULT;

out_free_next_key:
	free(next_key);
out_free_key:
	free(key);
out_put_file:
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_map_lookup_and_delete_elem(struct bpf_state *st, union bpf_attr *attr,
					      union bpf_attr *uattr)
{
	void *key = NULL, *value = NULL;
	struct bpf_file *file;
	struct bpf_map *map;
	uint32_t value_size, perms;
	int err;

	(void)uattr;
	if (attr->flags & ~BPF_F_LOCK)
		return -EINVAL;
	file = bpf_map_file_get(st, (int)attr->map_fd, &err);
	if (!file)
		return err;
	map = file->obj;
	bpf_map_write_active_inc(map);
	perms = bpf_map_sys_perms(map, file->fmode);
	if (!(perms & BPF_MAP_FMODE_READ) || !(perms & BPF_MAP_FMODE_WRITE)) {
		err = -EPERM;
		goto out_write_dec;
	}
	if (attr->flags & BPF_F_LOCK) {
		err = -EINVAL;
		goto out_write_dec;
	}
	err = bpf_copy_key(map, attr->key, &key);
	if (err)
		goto out_write_dec;
	value_size = bpf_map_value_size(map);
	value = calloc(1, value_size ? value_size : 1);
	if (!value) {
		err = -ENOMEM;
		goto out_free_key;
	}
	err = bpf_map_lookup_and_delete_value(map, key, value, attr->flags);
	if (err)
		goto out_free_value;
	if (copy_to_user(u64_to_user_ptr(attr->value), value, value_size))
		err = -EFAULT;

out_free_value:
	free(value);
out_free_key:
	free(key);
out_write_dec:
	bpf_map_write_active_dec(map);
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_map_freeze(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_file *file;
	int err;

	(void)uattr;
	file = bpf_map_file_get(st, (int)attr->map_fd, &err);
	if (!file)
		return err;
	err = bpf_map_freeze(file->obj, file->fmode);
	bpf_file_put(file);
	return err;
}

/*
 * The four batch commands (bpf_map_do_batch of the kernel): reads need READ, writes
 * WRITE; the map layer walks the caller's arrays through uaccess and updates batch.count,
 * which goes back to the caller's attr whatever the result.
 */
static int bpf_cmd_map_batch(struct bpf_state *st, int cmd, union bpf_attr *attr,
			     union bpf_attr *uattr)
{
	bool has_read = cmd == BPF_MAP_LOOKUP_BATCH || cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH;
	bool has_write = cmd != BPF_MAP_LOOKUP_BATCH;
	uint32_t count = attr->batch.count;
	struct bpf_file *file;
	struct bpf_map *map;
	uint32_t perms;
	int err;

	file = bpf_map_file_get(st, (int)attr->batch.map_fd, &err);
	if (!file)
		return err;
	map = file->obj;
	if (has_write)
		bpf_map_write_active_inc(map);
	perms = bpf_map_sys_perms(map, file->fmode);
	if ((has_read && !(perms & BPF_MAP_FMODE_READ)) ||
	    (has_write && !(perms & BPF_MAP_FMODE_WRITE))) {
		err = -EPERM;
		goto out_write_dec;
	}
	err = bpf_map_do_batch(map, cmd, attr, &bpf_uaccess_user);
	if (attr->batch.count != count && put_user_attr(uattr, batch.count, attr->batch.count))
		err = -EFAULT;
	if (has_write && !err)
		bpf_map_maybe_wait_programs(map);
out_write_dec:
	if (has_write)
		bpf_map_write_active_dec(map);
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_map_lookup_batch(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	return bpf_cmd_map_batch(st, BPF_MAP_LOOKUP_BATCH, attr, uattr);
}

static int bpf_cmd_map_lookup_and_delete_batch(struct bpf_state *st, union bpf_attr *attr,
					       union bpf_attr *uattr)
{
	return bpf_cmd_map_batch(st, BPF_MAP_LOOKUP_AND_DELETE_BATCH, attr, uattr);
}

static int bpf_cmd_map_update_batch(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	return bpf_cmd_map_batch(st, BPF_MAP_UPDATE_BATCH, attr, uattr);
}

static int bpf_cmd_map_delete_batch(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	return bpf_cmd_map_batch(st, BPF_MAP_DELETE_BATCH, attr, uattr);
}

/* ---- Programs and BTF -------------------------------------------------------------------- */

static int bpf_cmd_prog_load(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_prog *prog;
	struct bpf_file *file;
	int err;

	(void)uattr;
	err = bpf_prog_load(st, attr, &prog);
	if (err)
		return err;
	file = bpf_file_new(BPF_FILE_PROG, prog, O_RDWR);
	if (!file) {
		bpf_prog_put(prog);
		return -ENOMEM;
	}
	return bpf_fd_install(st, file, true);
}

static int bpf_cmd_btf_load(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_file *file;
	struct bpf_btf *btf;
	int err;

	(void)uattr;
	err = bpf_btf_load(st, attr, &btf);
	if (err)
		return err;
	file = bpf_file_new(BPF_FILE_BTF, btf, O_RDONLY);
	if (!file) {
		bpf_btf_put(btf);
		return -ENOMEM;
	}
	return bpf_fd_install(st, file, true);
}

static int bpf_cmd_prog_test_run(struct bpf_state *st, union bpf_attr *attr,
				 union bpf_attr *uattr)
{
	/* A context needs both its size and its pointer. */
	if ((attr->test.ctx_size_in && !attr->test.ctx_in) ||
	    (!attr->test.ctx_size_in && attr->test.ctx_in))
		return -EINVAL;
	return bpf_prog_test_run(st, attr, uattr);
}

/* ---- OBJ_GET_INFO_BY_FD ------------------------------------------------------------------ */

/*
 * bpf_map_get_info_by_fd of 6.18, with its struct (info.h): the caller's bytes are read first
 * and come back where the map sets nothing (ifindex, netns, BTF fields of a map without BTF):
 * measured on 6.18. `hash` asks for the SHA-256 of a frozen plain ARRAY: measured, a hash
 * with a map type that cannot give one or a hash_size other than 32 is -EINVAL, an unfrozen
 * map -EPERM, a hash_size without a hash -EINVAL; hash_size is not written back.
 */
static int bpf_map_get_info_by_fd(struct bpf_map *map, const union bpf_attr *attr,
				  union bpf_attr *uattr)
{
	void *uinfo = u64_to_user_ptr(attr->info.info);
	uint32_t info_len = attr->info.info_len;
	struct bpf_map_info_6_18 info6;
	struct bpf_map_info *info = &info6.base;
	uint8_t hash[BPF_SHA256_DIGEST_SIZE];
	int err;

	err = bpf_check_uarg_tail_zero(uinfo, sizeof(info6), info_len);
	if (err)
		return err;
	if (info_len > sizeof(info6))
		info_len = sizeof(info6);
	memset(&info6, 0, sizeof(info6));
	if (copy_from_user(&info6, uinfo, info_len))
		return -EFAULT;

	info->type = map->map_type;
	info->id = map->id;
	info->key_size = map->key_size;
	info->value_size = map->value_size;
	info->max_entries = map->max_entries;
	info->map_flags = map->map_flags;
	info->map_extra = map->map_extra;
	memcpy(info->name, map->name, sizeof(info->name));
	if (map->btf_id) {
		info->btf_id = map->btf_id;
		info->btf_key_type_id = map->btf_key_type_id;
		info->btf_value_type_id = map->btf_value_type_id;
	}
	info->btf_vmlinux_value_type_id = 0;

	if (info6.hash) {
		if (!map->ops->map_get_hash || info6.hash_size != BPF_SHA256_DIGEST_SIZE)
			return -EINVAL;
		if (!atomic_load(&map->frozen))
			return -EPERM;
		err = map->ops->map_get_hash(map, sizeof(hash), hash);
		if (err)
			return err;
		if (copy_to_user(u64_to_user_ptr(info6.hash), hash, sizeof(hash)))
			return -EFAULT;
	} else if (info6.hash_size) {
		return -EINVAL;
	}

	if (copy_to_user(uinfo, &info6, info_len) ||
	    put_user_attr(uattr, info.info_len, info_len))
		return -EFAULT;
	return 0;
}

/* Fills the info of one kind of object (an ops table by file kind). */
typedef int (*bpf_info_fn)(struct bpf_state *st, void *obj, const union bpf_attr *attr,
			   union bpf_attr *uattr);

static int prog_info(struct bpf_state *st, void *obj, const union bpf_attr *attr,
		     union bpf_attr *uattr)
{
	return bpf_prog_get_info_by_fd(st, obj, attr, uattr);
}

static int map_info(struct bpf_state *st, void *obj, const union bpf_attr *attr,
		    union bpf_attr *uattr)
{
	(void)st;
	return bpf_map_get_info_by_fd(obj, attr, uattr);
}

static int btf_info(struct bpf_state *st, void *obj, const union bpf_attr *attr,
		    union bpf_attr *uattr)
{
	return bpf_btf_get_info_by_fd(st, obj, attr, uattr);
}

static int link_info(struct bpf_state *st, void *obj, const union bpf_attr *attr,
		     union bpf_attr *uattr)
{
	return bpf_link_get_info_by_fd(st, obj, attr, uattr);
}

static const bpf_info_fn bpf_info_fns[] = {
	[BPF_FILE_PROG] = prog_info,
	[BPF_FILE_MAP] = map_info,
	[BPF_FILE_BTF] = btf_info,
	[BPF_FILE_LINK] = link_info,
};

static int bpf_cmd_obj_get_info_by_fd(struct bpf_state *st, union bpf_attr *attr,
				      union bpf_attr *uattr)
{
	struct bpf_file *file;
	int err;

	/* fdget() directly: a closed fd is -EBADFD here, unlike every other command. */
	file = bpf_fd_get(st, (int)attr->info.bpf_fd);
	if (!file)
		return bpf_fd_not_ours(st, (int)attr->info.bpf_fd) == -EBADF ? -EBADFD : -EINVAL;
	if ((size_t)file->kind < ARRAY_SIZE(bpf_info_fns) && bpf_info_fns[file->kind])
		err = bpf_info_fns[file->kind](st, file->obj, attr, uattr);
	else
		err = -EINVAL;
	bpf_file_put(file);
	return err;
}

/* ---- Ids ------------------------------------------------------------------------------------ */

/* *_GET_NEXT_ID: the smallest id above start_id in @idr (bpf_obj_get_next_id). */
static int bpf_obj_get_next_id(struct bpf_state *st, const union bpf_attr *attr,
			       union bpf_attr *uattr, struct idr *idr)
{
	int next_id = (int)attr->start_id;
	int err = 0;

	if (attr->start_id >= INT_MAX)
		return -EINVAL;
	next_id++;
	pthread_mutex_lock(&st->idr_lock);
	if (!idr_get_next(idr, &next_id))
		err = -ENOENT;
	pthread_mutex_unlock(&st->idr_lock);
	if (!err && put_user_attr(uattr, next_id, (uint32_t)next_id))
		err = -EFAULT;
	return err;
}

static int bpf_cmd_prog_get_next_id(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	return bpf_obj_get_next_id(st, attr, uattr, &st->prog_idr);
}

static int bpf_cmd_map_get_next_id(struct bpf_state *st, union bpf_attr *attr,
				   union bpf_attr *uattr)
{
	return bpf_obj_get_next_id(st, attr, uattr, &st->map_idr);
}

static int bpf_cmd_btf_get_next_id(struct bpf_state *st, union bpf_attr *attr,
				   union bpf_attr *uattr)
{
	return bpf_obj_get_next_id(st, attr, uattr, &st->btf_idr);
}

/* Links: a primed link's id is already there (its GET_FD_BY_ID is -EAGAIN). */
static int bpf_cmd_link_get_next_id(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	return bpf_obj_get_next_id(st, attr, uattr, &st->link_idr);
}

static int bpf_cmd_prog_get_fd_by_id(struct bpf_state *st, union bpf_attr *attr,
				     union bpf_attr *uattr)
{
	struct bpf_prog *prog;
	struct bpf_file *file;
	int err = 0;

	(void)uattr;
	if (!attr->prog_id)
		return -ENOENT;
	pthread_mutex_lock(&st->idr_lock);
	prog = idr_find(&st->prog_idr, attr->prog_id);
	err = prog ? bpf_prog_inc_not_zero(prog) : -ENOENT;
	pthread_mutex_unlock(&st->idr_lock);
	if (err)
		return err;
	file = bpf_file_new(BPF_FILE_PROG, prog, O_RDWR);
	if (!file) {
		bpf_prog_put(prog);
		return -ENOMEM;
	}
	return bpf_fd_install(st, file, true);
}

static int bpf_cmd_map_get_fd_by_id(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	struct bpf_file *file;
	struct bpf_map *map;
	int fmode, err;

	(void)uattr;
	if (attr->open_flags & ~BPF_OBJ_FLAG_MASK)
		return -EINVAL;
	fmode = bpf_map_fmode_from_flags(attr->open_flags);
	if (fmode < 0)
		return fmode;
	if (!attr->map_id)
		return -ENOENT;
	pthread_mutex_lock(&st->idr_lock);
	map = idr_find(&st->map_idr, attr->map_id);
	err = map ? bpf_map_inc_not_zero(map, true) : -ENOENT;
	pthread_mutex_unlock(&st->idr_lock);
	if (err)
		return err;
	file = bpf_file_new(BPF_FILE_MAP, map, bpf_map_f_flags(fmode));
	if (!file) {
		bpf_map_put_with_uref(map);
		return -ENOMEM;
	}
	return bpf_fd_install(st, file, true);
}

static int bpf_cmd_btf_get_fd_by_id(struct bpf_state *st, union bpf_attr *attr,
				    union bpf_attr *uattr)
{
	struct bpf_file *file;
	struct bpf_btf *btf;
	int err;

	(void)uattr;
	if (!attr->btf_id)
		return -ENOENT;
	pthread_mutex_lock(&st->idr_lock);
	btf = idr_find(&st->btf_idr, attr->btf_id);
	err = btf ? bpf_btf_inc_not_zero(btf) : -ENOENT;
	pthread_mutex_unlock(&st->idr_lock);
	if (err)
		return err;
	file = bpf_file_new(BPF_FILE_BTF, btf, O_RDONLY);
	if (!file) {
		bpf_btf_put(btf);
		return -ENOMEM;
	}
	return bpf_fd_install(st, file, true);
}

static int bpf_cmd_link_get_fd_by_id(struct bpf_state *st, union bpf_attr *attr,
				     union bpf_attr *uattr)
{
	(void)uattr;
	return bpf_link_get_fd_by_id(st, attr);
}

/* ---- Pinning ------------------------------------------------------------------------------- */

/* The path argument: PATH_MAX bytes at most with its NUL (strncpy_from_user, getname). */
static int bpf_get_path(const union bpf_attr *attr, char **pathp)
{
	char *path = malloc(PATH_MAX);
	long len;

	if (!path)
		return -ENOMEM;
	len = strncpy_from_user(path, u64_to_user_ptr(attr->pathname), PATH_MAX);
	if (len < 0 || len == PATH_MAX || len == 0) {
		free(path);
		return len < 0 ? (int)len : len == 0 ? -ENOENT : -ENAMETOOLONG;
	}
	*pathp = path;
	return 0;
}

/*
 * OBJ_PIN: the fd must be a program, map or link (bpf_fd_probe_obj tries each and answers
 * -EINVAL when none fits, a closed fd included).
 */
static int bpf_cmd_obj_pin(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_file *file;
	char *path;
	int err;

	(void)uattr;
	if (attr->file_flags != 0)
		return -EINVAL;
	file = bpf_fd_get(st, (int)attr->bpf_fd);
	if (!file || (file->kind != BPF_FILE_PROG && file->kind != BPF_FILE_MAP &&
		      file->kind != BPF_FILE_LINK)) {
		err = -EINVAL;
		goto out_put_file;
	}
	err = bpf_get_path(attr, &path);
	if (err)
		goto out_put_file;
	err = bpffs_pin(st, path, file);
	free(path);
out_put_file:
	bpf_file_put(file);
	return err;
}

static int bpf_cmd_obj_get(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_file *file;
	char *path;
	int fmode, err;

	(void)uattr;
	if (attr->bpf_fd != 0 || attr->file_flags & ~BPF_OBJ_FLAG_MASK)
		return -EINVAL;
	fmode = bpf_map_fmode_from_flags(attr->file_flags);
	if (fmode < 0)
		return fmode;
	err = bpf_get_path(attr, &path);
	if (err)
		return err;
	err = bpffs_get(st, path, bpf_map_f_flags(fmode), &file);
	free(path);
	if (err)
		return err;
	return bpf_fd_install(st, file, true);
}

/* ---- Statistics ----------------------------------------------------------------------------- */

static int bpf_cmd_enable_stats(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_file *file;

	(void)uattr;
	if (attr->enable_stats.type != BPF_STATS_RUN_TIME)
		return -EINVAL;
	if (atomic_load(&st->stats_enabled) == INT_MAX)
		return -EBUSY;
	file = bpf_file_new(BPF_FILE_STATS, st, O_RDONLY);
	if (!file)
		return -ENOMEM;
	/* counted before the fd exists: the file's release undoes it on a failed install */
	atomic_fetch_add(&st->stats_enabled, 1);
	return bpf_fd_install(st, file, true);
}

/* ---- Links ----------------------------------------------------------------------------------- */

static int bpf_cmd_link_update(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	return bpf_link_update(st, attr);
}

static int bpf_cmd_link_detach(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	return bpf_link_detach(st, attr);
}

/* ---- Attachment front ends --------------------------------------------------------------- */

/*
 * attach_type_to_prog_type of the kernel, for the attach types whose program type the
 * syscall layer must know (the rest map to BPF_PROG_TYPE_UNSPEC).
 */
static const uint32_t bpf_attach_prog_types[] = {
	[BPF_CGROUP_INET_INGRESS] = BPF_PROG_TYPE_CGROUP_SKB,
	[BPF_CGROUP_INET_EGRESS] = BPF_PROG_TYPE_CGROUP_SKB,
	[BPF_CGROUP_INET_SOCK_CREATE] = BPF_PROG_TYPE_CGROUP_SOCK,
	[BPF_CGROUP_INET_SOCK_RELEASE] = BPF_PROG_TYPE_CGROUP_SOCK,
	[BPF_CGROUP_INET4_POST_BIND] = BPF_PROG_TYPE_CGROUP_SOCK,
	[BPF_CGROUP_INET6_POST_BIND] = BPF_PROG_TYPE_CGROUP_SOCK,
	[BPF_CGROUP_INET4_BIND] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET6_BIND] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET4_CONNECT] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET6_CONNECT] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET4_GETPEERNAME] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET6_GETPEERNAME] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET4_GETSOCKNAME] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_INET6_GETSOCKNAME] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_UDP4_SENDMSG] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_UDP6_SENDMSG] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_UDP4_RECVMSG] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_UDP6_RECVMSG] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[49] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR, /* CGROUP_UNIX_CONNECT .. _GETSOCKNAME (6.7+) */
	[50] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[51] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[52] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[53] = BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	[BPF_CGROUP_SOCK_OPS] = BPF_PROG_TYPE_SOCK_OPS,
	[BPF_CGROUP_DEVICE] = BPF_PROG_TYPE_CGROUP_DEVICE,
	[BPF_SK_MSG_VERDICT] = BPF_PROG_TYPE_SK_MSG,
	[BPF_SK_SKB_STREAM_PARSER] = BPF_PROG_TYPE_SK_SKB,
	[BPF_SK_SKB_STREAM_VERDICT] = BPF_PROG_TYPE_SK_SKB,
	[BPF_SK_SKB_VERDICT] = BPF_PROG_TYPE_SK_SKB,
	[BPF_LIRC_MODE2] = BPF_PROG_TYPE_LIRC_MODE2,
	[BPF_FLOW_DISSECTOR] = BPF_PROG_TYPE_FLOW_DISSECTOR,
	[BPF_CGROUP_SYSCTL] = BPF_PROG_TYPE_CGROUP_SYSCTL,
	[BPF_CGROUP_GETSOCKOPT] = BPF_PROG_TYPE_CGROUP_SOCKOPT,
	[BPF_CGROUP_SETSOCKOPT] = BPF_PROG_TYPE_CGROUP_SOCKOPT,
	[BPF_TRACE_ITER] = BPF_PROG_TYPE_TRACING,
	[BPF_TRACE_RAW_TP] = BPF_PROG_TYPE_TRACING,
	[BPF_TRACE_FENTRY] = BPF_PROG_TYPE_TRACING,
	[BPF_TRACE_FEXIT] = BPF_PROG_TYPE_TRACING,
	[BPF_MODIFY_RETURN] = BPF_PROG_TYPE_TRACING,
	[BPF_LSM_MAC] = BPF_PROG_TYPE_LSM,
	[BPF_SK_LOOKUP] = BPF_PROG_TYPE_SK_LOOKUP,
	[BPF_XDP] = BPF_PROG_TYPE_XDP,
	[BPF_LSM_CGROUP] = BPF_PROG_TYPE_LSM,
	[46] = BPF_PROG_TYPE_SCHED_CLS, /* TCX_INGRESS, TCX_EGRESS (6.6+) */
	[47] = BPF_PROG_TYPE_SCHED_CLS,
	[54] = BPF_PROG_TYPE_SCHED_CLS, /* NETKIT_PRIMARY, NETKIT_PEER (6.7+) */
	[55] = BPF_PROG_TYPE_SCHED_CLS,
};

static uint32_t attach_type_to_prog_type(uint32_t attach_type)
{
	if (attach_type >= ARRAY_SIZE(bpf_attach_prog_types))
		return BPF_PROG_TYPE_UNSPEC;
	return bpf_attach_prog_types[attach_type];
}

/* tcx and netkit take the multi-program attach options; everything else does not. */
static bool is_mprog_prog_type(uint32_t ptype)
{
	return ptype == BPF_PROG_TYPE_SCHED_CLS;
}

/*
 * bpf_prog_attach_check_attach_type: whether @prog may go to @attach_type. Programs whose
 * expected_attach_type chooses their hook must match it; the others must be of the type the
 * attach type takes. 0 or -EINVAL.
 */
static int bpf_prog_attach_check_attach_type(const struct bpf_prog *prog, uint32_t attach_type)
{
	switch (bpf_prog_type(prog)) {
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_SK_LOOKUP:
		return attach_type == bpf_prog_expected_attach_type(prog) ? 0 : -EINVAL;
	case BPF_PROG_TYPE_EXT:
		return 0;
	default:
		return attach_type_to_prog_type(attach_type) == bpf_prog_type(prog) ? 0 : -EINVAL;
	}
}

/* bpf_prog_get_type: the program behind @fd if it is of @ptype (-EBADF, -EINVAL). */
static struct bpf_prog *bpf_prog_get_type(struct bpf_state *st, int fd, uint32_t ptype, int *err)
{
	struct bpf_prog *prog = bpf_prog_from_fd(st, fd, err);

	if (prog && bpf_prog_type(prog) != ptype) {
		bpf_prog_put(prog);
		*err = -EINVAL;
		return NULL;
	}
	return prog;
}

/*
 * PROG_ATTACH: the syscall-level checks, then the target of the program's type. Network
 * namespaces take the flow dissector; every other type (sk_lookup and XDP included: links
 * only) is -EINVAL until its target exists.
 */
static int bpf_cmd_prog_attach(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	uint32_t ptype = attach_type_to_prog_type(attr->attach_type);
	struct bpf_prog *prog;
	int err = 0;

	(void)uattr;
	if (ptype == BPF_PROG_TYPE_UNSPEC)
		return -EINVAL;
	if (!is_mprog_prog_type(ptype) &&
	    attr->attach_flags &
		    ~(BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI | BPF_F_REPLACE | BPF_F_PREORDER))
		return -EINVAL;
	prog = bpf_prog_get_type(st, (int)attr->attach_bpf_fd, ptype, &err);
	if (!prog)
		return err;
	/* any reason is -EINVAL here (LINK_CREATE passes the reason on) */
	if (bpf_prog_attach_check_attach_type(prog, attr->attach_type)) {
		bpf_prog_put(prog);
		return -EINVAL;
	}
	switch (ptype) {
	case BPF_PROG_TYPE_FLOW_DISSECTOR:
		err = netns_bpf_prog_attach(st, attr, prog);
		break;
	default:
		err = -EINVAL;
		break;
	}
	if (err)
		bpf_prog_put(prog);
	return err;
}

static int bpf_cmd_prog_detach(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	uint32_t ptype = attach_type_to_prog_type(attr->attach_type);

	(void)uattr;
	if (!is_mprog_prog_type(ptype) && attr->attach_flags)
		return -EINVAL;
	switch (ptype) {
	case BPF_PROG_TYPE_FLOW_DISSECTOR:
		return netns_bpf_prog_detach(st, attr);
	default:
		return -EINVAL;
	}
}

static int bpf_cmd_prog_query(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	if (attr->query.query_flags & ~BPF_F_QUERY_EFFECTIVE)
		return -EINVAL;
	switch (attr->query.attach_type) {
	case BPF_FLOW_DISSECTOR:
	case BPF_SK_LOOKUP:
		return netns_bpf_prog_query(st, attr, uattr);
	default:
		return -EINVAL;
	}
}

static int bpf_cmd_link_create(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr)
{
	struct bpf_prog *prog;
	int err = 0;

	(void)uattr;
	/* struct_ops links name a map: nsbpf has no struct_ops map, so any map is -EINVAL. */
	if (attr->link_create.attach_type == BPF_ATTACH_STRUCT_OPS) {
		struct bpf_file *file = bpf_map_file_get(st, (int)attr->link_create.prog_fd, &err);

		if (!file)
			return err;
		bpf_file_put(file);
		return -EINVAL;
	}
	prog = bpf_prog_from_fd(st, (int)attr->link_create.prog_fd, &err);
	if (!prog)
		return err;
	err = bpf_prog_attach_check_attach_type(prog, attr->link_create.attach_type);
	if (err)
		goto out_put_prog;
	switch (bpf_prog_type(prog)) {
	case BPF_PROG_TYPE_FLOW_DISSECTOR:
	case BPF_PROG_TYPE_SK_LOOKUP:
		err = netns_bpf_link_create(st, attr, prog);
		break;
	default:
		err = -EINVAL;
		break;
	}
out_put_prog:
	if (err < 0)
		bpf_prog_put(prog);
	return err;
}

/* ---- The dispatcher ------------------------------------------------------------------------ */

typedef int (*bpf_cmd_fn)(struct bpf_state *st, union bpf_attr *attr, union bpf_attr *uattr);

/*
 * One command: its function, and where its last field ends (CHECK_ATTR: every byte after
 * it must be zero). The last fields are those of Linux 6.1's kernel/bpf/syscall.c, the
 * kernel of the uapi header we compile against.
 */
struct bpf_cmd_desc {
	bpf_cmd_fn fn;
	size_t attr_end;
};

#define ATTR_END(field) offsetofend(union bpf_attr, field)

static const struct bpf_cmd_desc bpf_cmds[] = {
	[BPF_MAP_CREATE] = { bpf_cmd_map_create, ATTR_END(map_extra) },
	[BPF_MAP_LOOKUP_ELEM] = { bpf_cmd_map_lookup_elem, ATTR_END(flags) },
	[BPF_MAP_UPDATE_ELEM] = { bpf_cmd_map_update_elem, ATTR_END(flags) },
	[BPF_MAP_DELETE_ELEM] = { bpf_cmd_map_delete_elem, ATTR_END(key) },
	[BPF_MAP_GET_NEXT_KEY] = { bpf_cmd_map_get_next_key, ATTR_END(next_key) },
	[BPF_PROG_LOAD] = { bpf_cmd_prog_load, ATTR_END(core_relo_rec_size) },
	[BPF_OBJ_PIN] = { bpf_cmd_obj_pin, ATTR_END(file_flags) },
	[BPF_OBJ_GET] = { bpf_cmd_obj_get, ATTR_END(file_flags) },
	[BPF_PROG_ATTACH] = { bpf_cmd_prog_attach, ATTR_END(replace_bpf_fd) },
	[BPF_PROG_DETACH] = { bpf_cmd_prog_detach, ATTR_END(attach_type) },
	[BPF_PROG_TEST_RUN] = { bpf_cmd_prog_test_run, ATTR_END(test.batch_size) },
	[BPF_PROG_GET_NEXT_ID] = { bpf_cmd_prog_get_next_id, ATTR_END(next_id) },
	[BPF_MAP_GET_NEXT_ID] = { bpf_cmd_map_get_next_id, ATTR_END(next_id) },
	[BPF_PROG_GET_FD_BY_ID] = { bpf_cmd_prog_get_fd_by_id, ATTR_END(prog_id) },
	[BPF_MAP_GET_FD_BY_ID] = { bpf_cmd_map_get_fd_by_id, ATTR_END(open_flags) },
	[BPF_OBJ_GET_INFO_BY_FD] = { bpf_cmd_obj_get_info_by_fd, ATTR_END(info.info) },
	[BPF_PROG_QUERY] = { bpf_cmd_prog_query, ATTR_END(query.prog_attach_flags) },
	[BPF_BTF_LOAD] = { bpf_cmd_btf_load, ATTR_END(btf_log_level) },
	[BPF_BTF_GET_FD_BY_ID] = { bpf_cmd_btf_get_fd_by_id, ATTR_END(btf_id) },
	[BPF_MAP_LOOKUP_AND_DELETE_ELEM] = { bpf_cmd_map_lookup_and_delete_elem, ATTR_END(flags) },
	[BPF_MAP_FREEZE] = { bpf_cmd_map_freeze, ATTR_END(map_fd) },
	[BPF_BTF_GET_NEXT_ID] = { bpf_cmd_btf_get_next_id, ATTR_END(next_id) },
	[BPF_MAP_LOOKUP_BATCH] = { bpf_cmd_map_lookup_batch, ATTR_END(batch.flags) },
	[BPF_MAP_LOOKUP_AND_DELETE_BATCH] = { bpf_cmd_map_lookup_and_delete_batch,
					      ATTR_END(batch.flags) },
	[BPF_MAP_UPDATE_BATCH] = { bpf_cmd_map_update_batch, ATTR_END(batch.flags) },
	[BPF_MAP_DELETE_BATCH] = { bpf_cmd_map_delete_batch, ATTR_END(batch.flags) },
	[BPF_LINK_CREATE] = { bpf_cmd_link_create, ATTR_END(link_create.kprobe_multi.cookies) },
	[BPF_LINK_UPDATE] = { bpf_cmd_link_update, ATTR_END(link_update.old_prog_fd) },
	[BPF_LINK_GET_FD_BY_ID] = { bpf_cmd_link_get_fd_by_id, ATTR_END(link_id) },
	[BPF_LINK_GET_NEXT_ID] = { bpf_cmd_link_get_next_id, ATTR_END(next_id) },
	[BPF_ENABLE_STATS] = { bpf_cmd_enable_stats, ATTR_END(enable_stats.type) },
	[BPF_LINK_DETACH] = { bpf_cmd_link_detach, ATTR_END(link_detach.link_fd) },
	/*
	 * RAW_TRACEPOINT_OPEN, TASK_FD_QUERY, ITER_CREATE and PROG_BIND_MAP need kernel
	 * objects nsbpf does not model: -EINVAL, as for an unknown command.
	 */
};

/* CHECK_ATTR: nothing after the command's last field. */
static bool bpf_attr_tail_nonzero(const union bpf_attr *attr, size_t end)
{
	const unsigned char *p = (const unsigned char *)attr;
	size_t i;

	for (i = end; i < sizeof(*attr); i++)
		if (p[i])
			return true;
	return false;
}

long nsbpf_sys_bpf(struct nsbpf_runtime *rt, int cmd, void *uattr, unsigned int size)
{
	const struct bpf_cmd_desc *c;
	union bpf_attr attr;
	struct bpf_state *st;
	int err;

	err = bpf_check_uarg_tail_zero(uattr, sizeof(attr), size);
	if (err)
		return err;
	if (size > sizeof(attr))
		size = sizeof(attr);
	memset(&attr, 0, sizeof(attr));
	if (copy_from_user(&attr, uattr, size))
		return -EFAULT;

	if (cmd < 0 || (size_t)cmd >= ARRAY_SIZE(bpf_cmds) || !bpf_cmds[cmd].fn)
		return -EINVAL;
	c = &bpf_cmds[cmd];
	if (bpf_attr_tail_nonzero(&attr, c->attr_end))
		return -EINVAL;

	st = bpf_state_get(rt);
	if (!st)
		return -ENOMEM;
	return c->fn(st, &attr, uattr);
}
