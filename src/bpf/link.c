// SPDX-License-Identifier: MIT
/*
 * link.c - the generic bpf_link of kernel/bpf/syscall.c: creation in three steps (prime,
 * then settle or cleanup), reference counting, and the commands every link type answers the
 * same way (LINK_UPDATE's and LINK_DETACH's checks, LINK_GET_FD_BY_ID, OBJ_GET_INFO_BY_FD,
 * fdinfo). Link types (netns, cgroup, XDP) live in their own files and reach this one
 * through struct bpf_link_ops only.
 *
 * Ids: a link's id is reserved at prime in st->link_idr, mapped to the link at once (as the
 * kernel does), so LINK_GET_NEXT_ID sees it; link->id stays 0 until settle, and
 * LINK_GET_FD_BY_ID answers -EAGAIN meanwhile. The id leaves the idr only when the link is
 * freed, never on detach.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpf.h"
#include "info.h"
#include "link.h"

/* fdinfo's `link_type:` names, by enum bpf_link_type (bpf_link_type_strs of the kernel). */
static const char *const bpf_link_type_names[] = {
	[1] = "raw_tracepoint", [2] = "tracing",     [3] = "cgroup",	   [4] = "iter",
	[5] = "netns",		[6] = "xdp",	     [7] = "perf_event",   [8] = "kprobe_multi",
	[9] = "struct_ops",	[10] = "netfilter",  [11] = "tcx",	   [12] = "uprobe_multi",
	[13] = "netkit",	[14] = "sockmap",
};

void bpf_link_init(struct bpf_link *link, struct bpf_state *st, enum bpf_link_type type,
		   const struct bpf_link_ops *ops, struct bpf_prog *prog)
{
	atomic_init(&link->refcnt, 1);
	link->id = 0;
	link->type = type;
	link->ops = ops;
	atomic_init(&link->prog, prog);
	link->st = st;
}

static void bpf_link_free_id(struct bpf_state *st, uint32_t id)
{
	if (!id)
		return;
	pthread_mutex_lock(&st->idr_lock);
	idr_remove(&st->link_idr, id);
	pthread_mutex_unlock(&st->idr_lock);
}

int bpf_link_prime(struct bpf_link *link, struct bpf_link_primer *primer)
{
	struct bpf_state *st = link->st;
	struct bpf_file *file;
	int fd, id, err;

	/* The fd first, as get_unused_fd_flags(O_CLOEXEC): -EMFILE before anything else. */
	fd = bpf_fd_reserve(st);
	if (fd < 0)
		return fd;

	pthread_mutex_lock(&st->idr_lock);
	id = idr_alloc_cyclic(&st->link_idr, link, 1, INT_MAX);
	pthread_mutex_unlock(&st->idr_lock);
	if (id < 0) {
		err = id;
		goto err_close_fd;
	}

	/* The file does not own the link until settle: cleanup deallocs it directly. */
	file = bpf_file_new(BPF_FILE_LINK, link, O_RDONLY);
	if (!file) {
		err = -ENOMEM;
		goto err_free_id;
	}
	primer->link = link;
	primer->file = file;
	primer->fd = fd;
	primer->id = (uint32_t)id;
	return 0;

err_free_id:
	bpf_link_free_id(st, (uint32_t)id);
err_close_fd:
	bpf_fd_unreserve(st, fd);
	return err;
}

int bpf_link_settle(struct bpf_link_primer *primer)
{
	struct bpf_state *st = primer->link->st;

	pthread_mutex_lock(&st->idr_lock);
	primer->link->id = primer->id;
	pthread_mutex_unlock(&st->idr_lock);
	return bpf_fd_install_at(st, primer->fd, primer->file, true);
}

void bpf_link_cleanup(struct bpf_link_primer *primer)
{
	struct bpf_link *link = primer->link;
	struct bpf_state *st = link->st;

	/* The caller keeps its program reference: the link must not release or put it. */
	atomic_store(&link->prog, NULL);
	bpf_link_free_id(st, primer->id);
	bpf_file_put(primer->file); /* the last reference: the link is freed (dealloc only) */
	bpf_fd_unreserve(st, primer->fd);
}

void bpf_link_inc(struct bpf_link *link)
{
	atomic_fetch_add(&link->refcnt, 1);
}

int bpf_link_inc_not_zero(struct bpf_link *link)
{
	int64_t old = atomic_load(&link->refcnt);

	do {
		if (old == 0)
			return -ENOENT;
	} while (!atomic_compare_exchange_weak(&link->refcnt, &old, old + 1));
	return 0;
}

static void bpf_link_free(struct bpf_link *link)
{
	struct bpf_prog *prog = atomic_load(&link->prog);

	/* The id goes first, so no id lookup finds a link being freed. */
	pthread_mutex_lock(&link->st->idr_lock);
	if (link->id)
		idr_remove(&link->st->link_idr, link->id);
	link->id = 0;
	pthread_mutex_unlock(&link->st->idr_lock);
	if (prog) {
		/* detach the program from its hook, then drop it */
		link->ops->release(link);
		bpf_prog_put(prog);
	}
	link->ops->dealloc(link);
}

void bpf_link_put(struct bpf_link *link)
{
	if (atomic_fetch_sub(&link->refcnt, 1) == 1)
		bpf_link_free(link);
}

struct bpf_link *bpf_link_get_from_fd(struct bpf_state *st, int fd, int *err)
{
	struct bpf_file *file = bpf_fd_get(st, fd);
	struct bpf_link *link;

	if (!file) {
		*err = bpf_fd_not_ours(st, fd);
		return NULL;
	}
	if (file->kind != BPF_FILE_LINK) {
		bpf_file_put(file);
		*err = -EINVAL;
		return NULL;
	}
	link = file->obj;
	bpf_link_inc(link);
	bpf_file_put(file);
	return link;
}

/* LINK_UPDATE: the generic checks in the kernel's order, then the type's update_prog. */
int bpf_link_update(struct bpf_state *st, const union bpf_attr *attr)
{
	struct bpf_prog *new_prog, *old_prog = NULL;
	uint32_t flags = attr->link_update.flags;
	struct bpf_link *link;
	int err;

	if (flags & ~BPF_F_REPLACE)
		return -EINVAL;
	link = bpf_link_get_from_fd(st, (int)attr->link_update.link_fd, &err);
	if (!link)
		return err;

	new_prog = bpf_prog_from_fd(st, (int)attr->link_update.new_prog_fd, &err);
	if (!new_prog)
		goto out_put_link;

	if (flags & BPF_F_REPLACE) {
		old_prog = bpf_prog_from_fd(st, (int)attr->link_update.old_prog_fd, &err);
		if (!old_prog)
			goto out_put_progs;
	} else if (attr->link_update.old_prog_fd) {
		err = -EINVAL;
		goto out_put_progs;
	}

	if (link->ops->update_prog)
		err = link->ops->update_prog(link, new_prog, old_prog);
	else
		err = -EINVAL;

out_put_progs:
	if (old_prog)
		bpf_prog_put(old_prog);
	if (err && new_prog)
		bpf_prog_put(new_prog);
out_put_link:
	bpf_link_put(link);
	return err;
}

int bpf_link_detach(struct bpf_state *st, const union bpf_attr *attr)
{
	struct bpf_link *link;
	int err;

	link = bpf_link_get_from_fd(st, (int)attr->link_detach.link_fd, &err);
	if (!link)
		return err;
	if (link->ops->detach)
		err = link->ops->detach(link);
	else
		err = -EOPNOTSUPP;
	bpf_link_put(link);
	return err;
}

/*
 * LINK_GET_FD_BY_ID: the fd's anon inode is named "bpf-link" here (bpf_link_new_fd of
 * the kernel), where LINK_CREATE's is "bpf_link"; measured on 6.18.
 */
int bpf_link_get_fd_by_id(struct bpf_state *st, const union bpf_attr *attr)
{
	uint32_t id = attr->link_id;
	struct bpf_link *link;
	struct bpf_file *file;
	int err = 0;

	if (!id)
		return -ENOENT;
	pthread_mutex_lock(&st->idr_lock);
	link = idr_find(&st->link_idr, id);
	if (!link)
		err = -ENOENT;
	else if (!link->id)
		err = -EAGAIN; /* primed, not settled: the attach is still in flight */
	else
		err = bpf_link_inc_not_zero(link);
	pthread_mutex_unlock(&st->idr_lock);
	if (err)
		return err;

	file = bpf_file_new(BPF_FILE_LINK, link, O_RDONLY);
	if (!file) {
		bpf_link_put(link);
		return -ENOMEM;
	}
	file->anon_name = "bpf-link";
	return bpf_fd_install(st, file, true);
}

/* bpf_link_get_info_by_fd of the kernel: the caller's bytes come back where nothing is set. */
int bpf_link_get_info_by_fd(struct bpf_state *st, struct bpf_link *link,
			    const union bpf_attr *attr, union bpf_attr *uattr)
{
	void *uinfo = u64_to_user_ptr(attr->info.info);
	uint32_t info_len = attr->info.info_len;
	/* the kernel's own (6.18) size decides the tail check and what comes back */
	struct bpf_link_info_6_18 full;
	struct bpf_link_info *info_p = &full.base;
	struct bpf_prog *prog;
	int err;

	(void)st;
	err = bpf_check_uarg_tail_zero(uinfo, sizeof(full), info_len);
	if (err)
		return err;
	if (info_len > sizeof(full))
		info_len = sizeof(full);

	memset(&full, 0, sizeof(full));
	if (copy_from_user(&full, uinfo, info_len))
		return -EFAULT;

	info_p->type = link->type;
	info_p->id = link->id;
	/* an update may put the program meanwhile: its free waits for this read section */
	bpf_rcu_thread_online();
	rcu_read_lock();
	prog = atomic_load(&link->prog);
	if (prog)
		info_p->prog_id = bpf_prog_id(prog);
	rcu_read_unlock();
	if (link->ops->fill_link_info) {
		err = link->ops->fill_link_info(link, info_p);
		if (err)
			return err;
	}

	if (copy_to_user(uinfo, &full, info_len) ||
	    copy_to_user(&uattr->info.info_len, &info_len, sizeof(info_len)))
		return -EFAULT;
	return 0;
}

/* snprintf at the end of what is written so far, counting past @size as snprintf does. */
static void link_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void link_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	size_t room = *len < size ? size - *len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? buf + *len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

int bpf_link_show_fdinfo(const struct bpf_link *link, char *buf, size_t size)
{
	struct bpf_prog *prog;
	size_t len = 0;

	/* an update may put the program meanwhile: its free waits for this read section */
	bpf_rcu_thread_online();
	rcu_read_lock();
	prog = atomic_load(&link->prog);

	if ((size_t)link->type < ARRAY_SIZE(bpf_link_type_names) && bpf_link_type_names[link->type])
		link_printf(buf, size, &len, "link_type:\t%s\n", bpf_link_type_names[link->type]);
	else
		link_printf(buf, size, &len, "link_type:\t<%u>\n", (unsigned int)link->type);
	link_printf(buf, size, &len, "link_id:\t%u\n", link->id);
	if (prog) {
		const uint8_t *tag = bpf_prog_tag(prog);
		char hex[BPF_TAG_SIZE * 2 + 1];
		int i;

		for (i = 0; i < BPF_TAG_SIZE; i++)
			snprintf(&hex[i * 2], 3, "%02x", tag[i]);
		link_printf(buf, size, &len, "prog_tag:\t%s\nprog_id:\t%u\n", hex,
			    bpf_prog_id(prog));
	}
	rcu_read_unlock();
	if (link->ops->show_fdinfo) {
		size_t room = len < size ? size - len : 0;
		int n = link->ops->show_fdinfo(link, room ? buf + len : NULL, room);

		if (n > 0)
			len += (size_t)n;
	}
	return (int)len;
}
