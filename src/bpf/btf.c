// SPDX-License-Identifier: MIT
/*
 * btf.c - BTF objects (kernel/bpf/btf.c's object side): BTF_LOAD, their ids and lifetime,
 * OBJ_GET_INFO_BY_FD's struct bpf_btf_info and the fdinfo line.
 *
 * The kernel's BTF verifier is replaced by libbpf's parser (btf__new): a blob libbpf cannot
 * parse is -EINVAL, whatever the kernel's finer message would be. The raw blob is kept, as
 * the kernel keeps it, for BTF info dumps (bpftool btf dump). Programs (prog_btf_fd) and maps
 * (btf_fd) hold references on BTF objects through bpf_btf_from_fd().
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prog.h"

#define BTF_MAX_SIZE (16 * 1024 * 1024)

struct bpf_btf {
	refcount_t refcnt; /* fds, programs, maps, commands */
	struct bpf_state *st; /* no reference: the runtime outlives its BTF */
	uint32_t id;	      /* 0 until published in st->btf_idr */
	void *data;	      /* the blob as loaded */
	uint32_t data_size;
	struct btf *btf; /* libbpf's parsed view of data */
};

static void bpf_btf_free(struct bpf_btf *btf)
{
	btf__free(btf->btf);
	free(btf->data);
	free(btf);
}

void bpf_btf_inc(struct bpf_btf *btf)
{
	refcount_inc(&btf->refcnt);
}

int bpf_btf_inc_not_zero(struct bpf_btf *btf)
{
	return refcount_inc_not_zero(&btf->refcnt) ? 0 : -ENOENT;
}

void bpf_btf_put(struct bpf_btf *btf)
{
	if (!btf || !refcount_dec_and_test(&btf->refcnt))
		return;
	if (btf->id) {
		pthread_mutex_lock(&btf->st->idr_lock);
		idr_remove(&btf->st->btf_idr, btf->id);
		pthread_mutex_unlock(&btf->st->idr_lock);
	}
	bpf_btf_free(btf);
}

uint32_t bpf_btf_id(const struct bpf_btf *btf)
{
	return btf->id;
}

struct bpf_btf *bpf_btf_from_fd(struct bpf_state *st, int fd, int *err)
{
	struct bpf_file *file = bpf_fd_get(st, fd);
	struct bpf_btf *btf = NULL;

	if (!file) {
		*err = -EBADF;
		return NULL;
	}
	if (file->kind == BPF_FILE_BTF) {
		btf = file->obj;
		bpf_btf_inc(btf);
		*err = 0;
	} else {
		*err = -EINVAL;
	}
	bpf_file_put(file);
	return btf;
}

int bpf_btf_load(struct bpf_state *st, union bpf_attr *attr, struct bpf_btf **btfp)
{
	struct bpf_btf *btf;
	int err, id;

	if (attr->btf_size > BTF_MAX_SIZE)
		return -E2BIG;
	if (!bpf_log_attr_valid(attr->btf_log_level, attr->btf_log_buf, attr->btf_log_size))
		return -EINVAL;

	btf = calloc(1, sizeof(*btf));
	if (!btf)
		return -ENOMEM;
	refcount_set(&btf->refcnt, 1);
	btf->st = st;
	btf->data_size = attr->btf_size;
	btf->data = malloc(attr->btf_size ? attr->btf_size : 1);
	if (!btf->data) {
		err = -ENOMEM;
		goto err_free_btf;
	}
	if (copy_from_user(btf->data, u64_to_user_ptr(attr->btf), attr->btf_size)) {
		err = -EFAULT;
		goto err_free_btf;
	}
	btf->btf = btf__new(btf->data, btf->data_size);
	if (!btf->btf || libbpf_get_error(btf->btf)) {
		btf->btf = NULL;
		err = bpf_log_write(attr->btf_log_level, attr->btf_log_buf, attr->btf_log_size,
				    "Invalid BTF\n");
		if (!err)
			err = -EINVAL;
		goto err_free_btf;
	}

	pthread_mutex_lock(&st->idr_lock);
	id = idr_alloc_cyclic(&st->btf_idr, btf, 1, INT32_MAX);
	if (id > 0)
		btf->id = (uint32_t)id;
	pthread_mutex_unlock(&st->idr_lock);
	if (id < 0) {
		err = id == -ENOSPC ? -ENOSPC : -ENOMEM;
		goto err_free_btf;
	}
	*btfp = btf;
	return 0;

err_free_btf:
	bpf_btf_free(btf);
	return err;
}

int bpf_btf_get_info_by_fd(struct bpf_state *st, struct bpf_btf *btf,
			   const union bpf_attr *attr, union bpf_attr *uattr)
{
	void *uinfo = u64_to_user_ptr(attr->info.info);
	struct bpf_btf_info info;
	uint32_t info_copy, btf_copy;
	char *uname;
	int err;

	(void)st;
	err = bpf_check_uarg_tail_zero(uinfo, sizeof(info), attr->info.info_len);
	if (err)
		return err;
	info_copy = attr->info.info_len < sizeof(info) ? attr->info.info_len : sizeof(info);
	memset(&info, 0, sizeof(info));
	if (copy_from_user(&info, uinfo, info_copy))
		return -EFAULT;

	info.id = btf->id;
	btf_copy = btf->data_size < info.btf_size ? btf->data_size : info.btf_size;
	if (btf_copy && copy_to_user(u64_to_user_ptr(info.btf), btf->data, btf_copy))
		return -EFAULT;
	info.btf_size = btf->data_size;
	info.kernel_btf = 0;

	/* user-loaded BTF has an empty name */
	uname = u64_to_user_ptr(info.name);
	if (!uname != !info.name_len)
		return -EINVAL;
	if (uname && copy_to_user(uname, "", 1))
		return -EFAULT;
	info.name_len = 0;

	if (copy_to_user(uinfo, &info, info_copy) ||
	    copy_to_user(&uattr->info.info_len, &info_copy, sizeof(info_copy)))
		return -EFAULT;
	return 0;
}

int bpf_btf_show_fdinfo(const struct bpf_btf *btf, char *buf, size_t size)
{
	return snprintf(buf, size, "btf_id:\t%u\n", btf->id);
}
