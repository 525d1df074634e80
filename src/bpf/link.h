/* SPDX-License-Identifier: MIT */
/*
 * link.h - the generic bpf_link: what every link type (netns, cgroup, XDP ...) shares. A
 * type embeds struct bpf_link first in its own struct, fills a struct bpf_link_ops with the
 * operations it has, and creates links in the kernel's three steps:
 *
 *	bpf_link_init(&l->link, st, BPF_LINK_TYPE_X, &x_link_ops, prog);
 *	err = bpf_link_prime(&l->link, &primer);	id and fd reserved, nothing visible
 *	if (err) { free(l); return err; }		(the caller still owns its prog ref)
 *	err = attach(l);
 *	if (err) { bpf_link_cleanup(&primer); return err; }	dealloc only; id burned
 *	return bpf_link_settle(&primer);		id published, fd installed
 *
 * On success the link owns the program reference the caller passed to bpf_link_init.
 */
#ifndef NSBPF_BPF_LINK_H
#define NSBPF_BPF_LINK_H

#include <linux/bpf.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_state;
struct bpf_prog;
struct bpf_file;
struct bpf_link;

/*
 * What a link type does. release: detach from the hook (last reference gone, the link
 * still has its prog); dealloc: free the memory (always called, last); detach: LINK_DETACH
 * (NULL: -EOPNOTSUPP), the link stays open but unattached; update_prog: LINK_UPDATE, with
 * @old_prog non-NULL under BPF_F_REPLACE (NULL: -EINVAL), which on success takes over the
 * caller's reference on @new_prog and drops the link's reference on the program it replaces;
 * fill_link_info: the per-type part of struct bpf_link_info; show_fdinfo: the per-type fdinfo
 * lines, snprintf-style (returns the length it wanted).
 */
struct bpf_link_ops {
	void (*release)(struct bpf_link *link);
	void (*dealloc)(struct bpf_link *link);
	int (*detach)(struct bpf_link *link);
	int (*update_prog)(struct bpf_link *link, struct bpf_prog *new_prog,
			   struct bpf_prog *old_prog);
	int (*fill_link_info)(const struct bpf_link *link, struct bpf_link_info *info);
	int (*show_fdinfo)(const struct bpf_link *link, char *buf, size_t size);
};

struct bpf_link {
	_Atomic int64_t refcnt; /* files (fds share one), bpffs pins, commands in flight */
	/* 0 until settle; then the id in st->link_idr, written under st->idr_lock. */
	uint32_t id;
	enum bpf_link_type type;
	const struct bpf_link_ops *ops;
	/*
	 * Holds a reference. Replaced by the type's update_prog under the type's own lock;
	 * readers outside that lock (info, fdinfo) see the old or the new program, both alive
	 * while the link holds one of them. NULL after a failed attach (cleanup).
	 */
	_Atomic(struct bpf_prog *) prog;
	struct bpf_state *st; /* no reference: the runtime outlives its links */
};

/* Between prime and settle or cleanup: the reserved id, fd and file. */
struct bpf_link_primer {
	struct bpf_link *link;
	struct bpf_file *file;
	int fd;
	uint32_t id;
};

/* @prog: the caller's reference, which the link takes over once settled. */
void bpf_link_init(struct bpf_link *link, struct bpf_state *st, enum bpf_link_type type,
		   const struct bpf_link_ops *ops, struct bpf_prog *prog);
/* Reserves an O_CLOEXEC fd, an id (seen by LINK_GET_NEXT_ID; GET_FD_BY_ID says -EAGAIN). */
int bpf_link_prime(struct bpf_link *link, struct bpf_link_primer *primer);
/* Publishes the id and installs the fd; returns the fd. */
int bpf_link_settle(struct bpf_link_primer *primer);
/* The attach failed: frees the id (never reused) and the fd; dealloc runs, release does not. */
void bpf_link_cleanup(struct bpf_link_primer *primer);

void bpf_link_inc(struct bpf_link *link);
/* A reference unless the last one is already gone: 0 or -ENOENT. idr_lock held. */
int bpf_link_inc_not_zero(struct bpf_link *link);
/* The last put frees the id, releases (if the link has a prog), puts the prog, deallocs. */
void bpf_link_put(struct bpf_link *link);

/* The link behind @fd, referenced: -EBADF (not open), -EINVAL (not a link). */
struct bpf_link *bpf_link_get_from_fd(struct bpf_state *st, int fd, int *err);

/* The commands of the generic layer, after CHECK_ATTR. */
int bpf_link_update(struct bpf_state *st, const union bpf_attr *attr);
int bpf_link_detach(struct bpf_state *st, const union bpf_attr *attr);
int bpf_link_get_fd_by_id(struct bpf_state *st, const union bpf_attr *attr);
int bpf_link_get_info_by_fd(struct bpf_state *st, struct bpf_link *link,
			    const union bpf_attr *attr, union bpf_attr *uattr);
/* The link's fdinfo lines (link_type, link_id, prog_tag, prog_id, then the type's). */
int bpf_link_show_fdinfo(const struct bpf_link *link, char *buf, size_t size);

#endif /* NSBPF_BPF_LINK_H */
