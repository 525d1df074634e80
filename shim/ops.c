// SPDX-License-Identifier: MIT
/*
 * ops.c - what each shim call does with a runtime, as one task of it. The same code answers a
 * process's own calls (shim.c, in-process) and, in a host process, the calls of its clients
 * (host.c), with nsbpf_set_caller() making fds and user pointers the client's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nsbpf/bpf.h"
#include "shim.h"

/* What the kernel's nsfs and cgroup2 inodes look like on this host (ino aside). */
static struct stat nsfs_stat, cgroup_stat;

void shim_ops_init(void)
{
	const struct shim_libc *libc = shim_libc();

	/* Borrow every field but the inode number from the host's own objects. */
	if (libc->fstatat(AT_FDCWD, "/proc/self/ns/net", &nsfs_stat, 0))
		nsfs_stat.st_mode = S_IFREG | 0444;
	if (shim_cgroup_mount())
		libc->fstatat(AT_FDCWD, shim_cgroup_mount(), &cgroup_stat, 0);
	cgroup_stat.st_mode = S_IFDIR | 0755;
}

static long op_setns(struct nsbpf_runtime *rt, struct nsbpf_task *task, int fd, int nstype)
{
	struct nsbpf_net *net;
	int err = nsbpf_fd_get_net(rt, fd, &net);

	if (err == -EBADF)
		return SHIM_KERNEL;
	if (!err) {
		err = nsbpf_task_setns(task, net, nstype);
		nsbpf_net_put(net);
	}
	return err;
}

/* open("/proc/self/ns/net"): an fd on the task's namespace. */
static long op_open_net(struct nsbpf_runtime *rt, struct nsbpf_task *task, int flags)
{
	struct nsbpf_net *net;
	int fd = nsbpf_task_get_net(task, &net);

	if (!fd) {
		fd = nsbpf_fd_install_net(rt, net, flags & O_CLOEXEC);
		nsbpf_net_put(net);
	}
	return fd;
}

/* open() of a cgroup2 directory: an fd holding the cgroup. */
static long op_open_cgroup(struct nsbpf_runtime *rt, const char *rel, int flags)
{
	struct nsbpf_cgroup *cgrp;
	int fd = nsbpf_cgroup_open(rt, rel, &cgrp);

	if (!fd && (flags & O_ACCMODE) != O_RDONLY) {
		nsbpf_cgroup_put(cgrp);
		fd = -EISDIR;
	} else if (!fd) {
		fd = nsbpf_fd_install_cgroup(rt, cgrp, flags & O_CLOEXEC);
		nsbpf_cgroup_put(cgrp);
	}
	return fd;
}

static long op_fdinfo(struct nsbpf_runtime *rt, int fd, struct shim_call *c)
{
	long len = nsbpf_fd_show_fdinfo(rt, fd, c->out, SHIM_OUT_MAX);

	if (len == -EBADF)
		return SHIM_KERNEL;
	if (len >= 0)
		c->out_len = len < SHIM_OUT_MAX ? (size_t)len : SHIM_OUT_MAX;
	return len;
}

/* stat of a namespace or cgroup fd: the host's inode of that kind with the runtime's number. */
static long op_fd_stat(struct nsbpf_runtime *rt, int fd, struct shim_call *c)
{
	struct stat *st = (struct stat *)c->out;
	struct nsbpf_cgroup *cgrp;
	struct nsbpf_net *net;

	if (!nsbpf_fd_get_net(rt, fd, &net)) {
		*st = nsfs_stat;
		st->st_ino = nsbpf_net_inum(net);
		nsbpf_net_put(net);
	} else if (!nsbpf_fd_get_cgroup(rt, fd, &cgrp)) {
		*st = cgroup_stat;
		st->st_ino = nsbpf_cgroup_id(cgrp);
		nsbpf_cgroup_put(cgrp);
	} else {
		return SHIM_KERNEL;
	}
	c->out_len = sizeof(*st);
	return 0;
}

static long op_path_stat(struct nsbpf_runtime *rt, struct nsbpf_task *task, struct shim_call *c)
{
	struct stat *st = (struct stat *)c->out;
	struct nsbpf_cgroup *cgrp;
	struct nsbpf_net *net;
	long err;

	switch (c->a[0]) {
	case SHIM_PATH_NS_NET:
		err = nsbpf_task_get_net(task, &net);
		if (!err) {
			*st = nsfs_stat;
			st->st_ino = nsbpf_net_inum(net);
			nsbpf_net_put(net);
		}
		break;
	case SHIM_PATH_CGROUP:
		err = nsbpf_cgroup_open(rt, c->str, &cgrp);
		if (!err) {
			*st = cgroup_stat;
			st->st_ino = nsbpf_cgroup_id(cgrp);
			nsbpf_cgroup_put(cgrp);
		}
		break;
	case SHIM_PATH_BPFFS:
		err = nsbpf_bpffs_stat(rt, c->str, st);
		/* Not below the runtime's mount point after all: the host's. */
		if (err == -EXDEV)
			err = SHIM_KERNEL;
		break;
	default:
		return SHIM_KERNEL;
	}
	if (!err)
		c->out_len = sizeof(*st);
	return err;
}

static long op_path_change(struct nsbpf_runtime *rt, struct shim_call *c)
{
	int op = (int)c->a[1];
	long err;

	switch (c->a[0]) {
	case SHIM_PATH_CGROUP:
		if (op == 'm')
			return nsbpf_cgroup_mkdir(rt, c->str);
		if (op == 'r')
			return nsbpf_cgroup_rmdir(rt, c->str);
		return -EPERM; /* cgroup2 files cannot be removed */
	case SHIM_PATH_BPFFS:
		if (op == 'm')
			err = nsbpf_bpffs_mkdir(rt, c->str, (unsigned int)c->a[2]);
		else
			err = nsbpf_bpffs_unlink(rt, c->str, op == 'r');
		return err == -EXDEV ? SHIM_KERNEL : err;
	default:
		return SHIM_KERNEL;
	}
}

/* readlink of /proc/self/ns/net or /proc/self/fd/N. */
static long op_readlink(struct nsbpf_runtime *rt, struct nsbpf_task *task, struct shim_call *c)
{
	struct nsbpf_net *net = NULL;
	long len = -EBADF;
	int fd = (int)c->a[1];

	if (c->a[0] == SHIM_PATH_NS_NET) {
		len = nsbpf_task_get_net(task, &net);
		if (len)
			return len;
	} else if (nsbpf_fd_get_net(rt, fd, &net)) {
		len = nsbpf_fd_readlink(rt, fd, c->out, SHIM_OUT_MAX);
	}
	/* A namespace is shown as the kernel's nsfs names it. */
	if (net) {
		len = snprintf(c->out, SHIM_OUT_MAX, "net:[%u]", nsbpf_net_inum(net));
		nsbpf_net_put(net);
	}
	if (len == -EBADF)
		return SHIM_KERNEL;
	if (len >= 0)
		c->out_len = len < SHIM_OUT_MAX ? (size_t)len : SHIM_OUT_MAX;
	return len;
}

static long op_readdir(struct nsbpf_runtime *rt, struct shim_call *c)
{
	struct nsbpf_bpffs_dirent *ents = NULL;
	long n = nsbpf_bpffs_readdir(rt, c->str, &ents);

	if (n == -EXDEV)
		return SHIM_KERNEL;
	if (n >= 0) {
		c->out_alloc = ents;
		c->out_len = (size_t)n * sizeof(*ents);
	}
	return n;
}

static long op_mmap(struct nsbpf_runtime *rt, struct shim_call *c)
{
	void *out = NULL;
	int err = nsbpf_fd_mmap(rt, (void *)c->a[5], (size_t)c->a[1], (int)c->a[2], (int)c->a[3],
				(int)c->a[0], c->a[4], &out);

	return err ? err : (long)out;
}

long shim_op_local(struct nsbpf_runtime *rt, struct nsbpf_task *task, struct shim_call *c)
{
	c->out_len = 0;
	switch (c->op) {
	case SHIM_OP_BPF:
		return nsbpf_sys_bpf(rt, (int)c->a[0], (void *)c->a[1], (unsigned int)c->a[2]);
	case SHIM_OP_UNSHARE_NET:
		return nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET);
	case SHIM_OP_SETNS:
		return op_setns(rt, task, (int)c->a[0], (int)c->a[1]);
	case SHIM_OP_OPEN_NET:
		return op_open_net(rt, task, (int)c->a[0]);
	case SHIM_OP_OPEN_CGROUP:
		return op_open_cgroup(rt, c->str, (int)c->a[0]);
	case SHIM_OP_FDINFO:
		return op_fdinfo(rt, (int)c->a[0], c);
	case SHIM_OP_FD_STAT:
		return op_fd_stat(rt, (int)c->a[0], c);
	case SHIM_OP_PATH_STAT:
		return op_path_stat(rt, task, c);
	case SHIM_OP_PATH_CHANGE:
		return op_path_change(rt, c);
	case SHIM_OP_READLINK:
		return op_readlink(rt, task, c);
	case SHIM_OP_READDIR:
		return op_readdir(rt, c);
	case SHIM_OP_MMAP:
		return op_mmap(rt, c);
	case SHIM_OP_MUNMAP:
		return nsbpf_munmap(rt, (void *)c->a[0], (size_t)c->a[1]);
	default:
		return -EINVAL;
	}
}
