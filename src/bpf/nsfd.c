// SPDX-License-Identifier: MIT
/*
 * nsfd.c - what the preload shim asks of the BPF subsystem for the process's file names.
 *
 * Namespace and cgroup fds: what open("/proc/self/ns/net") and open() of a cgroup2
 * directory give a process. In the kernel these are files of nsfs and of the cgroup
 * filesystem, which attach commands (BPF_LINK_CREATE of netns and cgroup programs,
 * BPF_PROG_ATTACH) take as their target. Here they are files of the BPF subsystem's fd table
 * (fd.c) whose object is a referenced handle, so they are closed, dup'ed and inherited exactly
 * like prog and map fds, and the last close drops the handle.
 */
#include <errno.h>
#include <fcntl.h>

#include "bpf.h"
#include "core/runtime.h"

/*
 * The flags fdinfo shows for these files: open() on a 64-bit kernel always adds O_LARGEFILE,
 * and a directory is opened with O_DIRECTORY.
 */
#define NSFD_NET_FLAGS	  (O_RDONLY | O_LARGEFILE)
#define NSFD_CGROUP_FLAGS (O_RDONLY | O_LARGEFILE | O_DIRECTORY)

/*
 * Installs a file for @obj, whose reference the caller took for the file: it goes with the
 * file (the fd's last close, or a failed install, drops it) or is dropped here.
 */
static int nsfd_install(struct nsbpf_runtime *rt, enum bpf_file_kind kind, void *obj,
			uint32_t f_flags, bool cloexec, void (*put)(void *obj))
{
	struct bpf_state *st = bpf_state_get(rt);
	struct bpf_file *file;

	file = st ? bpf_file_new(kind, obj, f_flags) : NULL;
	if (!file) {
		put(obj);
		return -ENOMEM;
	}
	return bpf_fd_install(st, file, cloexec);
}

static void nsfd_net_put(void *obj)
{
	nsbpf_net_put(obj);
}

static void nsfd_cgroup_put(void *obj)
{
	nsbpf_cgroup_put(obj);
}

int nsbpf_fd_install_net(struct nsbpf_runtime *rt, struct nsbpf_net *net, bool cloexec)
{
	if (net_from_handle(net)->rt != rt)
		return -EINVAL;
	return nsfd_install(rt, BPF_FILE_NET, nsbpf_net_get(net), NSFD_NET_FLAGS, cloexec,
			    nsfd_net_put);
}

int nsbpf_fd_install_cgroup(struct nsbpf_runtime *rt, struct nsbpf_cgroup *cgrp, bool cloexec)
{
	if (cgroup_from_handle(cgrp)->rt != rt)
		return -EINVAL;
	cgroup_get(cgroup_from_handle(cgrp));
	return nsfd_install(rt, BPF_FILE_CGROUP, cgrp, NSFD_CGROUP_FLAGS, cloexec, nsfd_cgroup_put);
}

/* The file behind @fd if it is of @kind: -EBADF (not ours), -EINVAL (another kind). */
static int nsfd_get(struct nsbpf_runtime *rt, int fd, enum bpf_file_kind kind,
		    struct bpf_file **filep)
{
	struct bpf_state *st = bpf_state_get(rt);
	struct bpf_file *file;

	if (!st)
		return -EBADF;
	file = bpf_fd_get(st, fd);
	if (!file)
		return -EBADF;
	if (file->kind != kind) {
		bpf_file_put(file);
		return -EINVAL;
	}
	*filep = file;
	return 0;
}

int nsbpf_fd_get_net(struct nsbpf_runtime *rt, int fd, struct nsbpf_net **net)
{
	struct bpf_file *file;
	int err;

	err = nsfd_get(rt, fd, BPF_FILE_NET, &file);
	if (err)
		return err;
	*net = nsbpf_net_get(file->obj);
	bpf_file_put(file);
	return 0;
}

int nsbpf_fd_get_cgroup(struct nsbpf_runtime *rt, int fd, struct nsbpf_cgroup **cgrp)
{
	struct bpf_file *file;
	int err;

	err = nsfd_get(rt, fd, BPF_FILE_CGROUP, &file);
	if (err)
		return err;
	cgroup_get(cgroup_from_handle(file->obj));
	*cgrp = file->obj;
	bpf_file_put(file);
	return 0;
}

/*
 * bpffs: mkdir(2), unlink(2), rmdir(2), stat(2) and readdir(3) of names below its mount point.
 * -EXDEV when @path is not below it: the host's file system answers.
 */
int nsbpf_bpffs_mkdir(struct nsbpf_runtime *rt, const char *path, unsigned int mode)
{
	struct bpf_state *st = bpf_state_get(rt);

	return st ? bpffs_mkdir(st, path, mode) : -ENOMEM;
}

int nsbpf_bpffs_unlink(struct nsbpf_runtime *rt, const char *path, bool dir)
{
	struct bpf_state *st = bpf_state_get(rt);

	if (!st)
		return -ENOMEM;
	return dir ? bpffs_rmdir(st, path) : bpffs_unlink(st, path);
}

int nsbpf_bpffs_stat(struct nsbpf_runtime *rt, const char *path, struct stat *stbuf)
{
	struct bpf_state *st = bpf_state_get(rt);

	return st ? bpffs_stat(st, path, stbuf) : -ENOMEM;
}

long nsbpf_bpffs_readdir(struct nsbpf_runtime *rt, const char *path,
			 struct nsbpf_bpffs_dirent **ents)
{
	struct bpf_state *st = bpf_state_get(rt);

	return st ? bpffs_readdir(st, path, ents) : -ENOMEM;
}
