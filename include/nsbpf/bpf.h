/* SPDX-License-Identifier: MIT */
/*
 * nsbpf/bpf.h - the bpf(2) system call of a runtime, and the file descriptors it hands out.
 *
 * nsbpf_sys_bpf() takes the same (cmd, union bpf_attr *, size) as the kernel's bpf(2) and
 * answers with the same results and errnos. Every object it returns is a real file
 * descriptor of this process (a dup of a file the runtime holds), so close(), dup() and fork()
 * behave; but the runtime can only see what happens to an fd through the nsbpf_fd_*() calls
 * below. An embedder calls them itself; the preload shim (libnsbpf-preload.so) calls them
 * from its wrappers of close(), dup2(), fcntl(F_DUPFD) ... so that unmodified programs work.
 *
 * The attr and every pointer inside it are treated as hostile: unmapped memory gives
 * -EFAULT, never a crash.
 *
 * Returns a non-negative value (an fd, or 0) or a negative errno.
 */
#ifndef NSBPF_BPF_H
#define NSBPF_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsbpf/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bpf(2), as the calling thread's current task of @rt (see nsbpf_set_current_task()). */
long nsbpf_sys_bpf(struct nsbpf_runtime *rt, int cmd, void *attr, unsigned int size);

/*
 * The task the calling thread acts as in @rt (its network namespace, cgroup, credentials);
 * the runtime's init task until set. The task must outlive its use.
 */
int nsbpf_set_current_task(struct nsbpf_runtime *rt, struct nsbpf_task *task);

/* Whether @fd is one of the runtime's (an fd some nsbpf call returned, or a dup of one). */
bool nsbpf_fd_owned(struct nsbpf_runtime *rt, int fd);
/* close(2) of one of the runtime's fds: the fd is closed and its reference dropped. */
int nsbpf_fd_close(struct nsbpf_runtime *rt, int fd);
/*
 * The process closed @fd behind the runtime's back (close_range(2), exec of a CLOEXEC fd):
 * drop its reference without closing anything. No-op for an fd that is not ours.
 */
void nsbpf_fd_forget(struct nsbpf_runtime *rt, int fd);
/*
 * @newfd is now a duplicate of @oldfd (dup, dup2, dup3, F_DUPFD*), made by the caller;
 * @cloexec is its FD_CLOEXEC. If @newfd was one of ours before, its old reference is dropped.
 */
int nsbpf_fd_dup(struct nsbpf_runtime *rt, int oldfd, int newfd, bool cloexec);
/* fcntl(F_SETFD) on one of ours: the fdinfo `flags:` line shows O_CLOEXEC from it. */
int nsbpf_fd_set_cloexec(struct nsbpf_runtime *rt, int fd, bool cloexec);
/*
 * The text of /proc/self/fdinfo/@fd as the kernel writes it (pos, flags, mnt_id, ino, then
 * the object's lines). Returns its length (it may exceed @size: truncated) or -EBADF.
 */
long nsbpf_fd_show_fdinfo(struct nsbpf_runtime *rt, int fd, char *buf, size_t size);
/* readlink of /proc/self/fd/@fd ("anon_inode:bpf-prog" ...). Length, or -EBADF. */
long nsbpf_fd_readlink(struct nsbpf_runtime *rt, int fd, char *buf, size_t size);

/*
 * Namespace and cgroup fds: what open("/proc/self/ns/net") and open() of a cgroup2 directory
 * give, as targets of attach commands. Installing takes a new reference on the handle (the
 * caller keeps its own); the fd's last close drops it.
 */
int nsbpf_fd_install_net(struct nsbpf_runtime *rt, struct nsbpf_net *net, bool cloexec);
int nsbpf_fd_install_cgroup(struct nsbpf_runtime *rt, struct nsbpf_cgroup *cgrp, bool cloexec);
/* The handle behind an fd, with a new reference: -EBADF (not ours), -EINVAL (other kind). */
int nsbpf_fd_get_net(struct nsbpf_runtime *rt, int fd, struct nsbpf_net **net);
int nsbpf_fd_get_cgroup(struct nsbpf_runtime *rt, int fd, struct nsbpf_cgroup **cgrp);

/*
 * mmap(2) of one of the runtime's fds: a BPF_F_MMAPABLE array or a ring buffer, with the
 * kernel's checks and errnos (-ENODEV for fds of other kinds). *out gets the mapping. After
 * munmap(2) of such a range the caller tells the runtime with nsbpf_munmap(), which returns
 * how many of its mappings the range ended (0: none of ours).
 */
int nsbpf_fd_mmap(struct nsbpf_runtime *rt, void *addr, size_t len, int prot, int flags, int fd,
		  int64_t off, void **out);
int nsbpf_munmap(struct nsbpf_runtime *rt, void *addr, size_t len);

/*
 * mkdir / rmdir / unlink under the runtime's bpffs mount point (/sys/fs/bpf): pins are
 * files there. -EXDEV for a path outside bpffs (the caller then asks the host).
 */
int nsbpf_bpffs_mkdir(struct nsbpf_runtime *rt, const char *path, unsigned int mode);
int nsbpf_bpffs_unlink(struct nsbpf_runtime *rt, const char *path, bool dir);

struct stat;

/*
 * stat(2) of a directory or pin under the bpffs mount point: type and permissions, nlink,
 * inode number, owner and times as the kernel's bpffs keeps them (st_dev left 0). bpffs has
 * no symlinks, so this is lstat(2) too. 0, -EXDEV outside bpffs, or the lookup's -errno.
 */
int nsbpf_bpffs_stat(struct nsbpf_runtime *rt, const char *path, struct stat *st);

/* One entry of a bpffs directory, as readdir(3) shows it. */
struct nsbpf_bpffs_dirent {
	unsigned long long ino;
	unsigned char type; /* DT_DIR or DT_REG */
	char name[256];
};

/*
 * The entries of the bpffs directory @path in the kernel's readdir order: ".", "..", then the
 * names newest first. *ents gets an array the caller free()s. Returns the number of entries,
 * -EXDEV outside bpffs, or -errno (-ENOENT, -ENOTDIR ...).
 */
long nsbpf_bpffs_readdir(struct nsbpf_runtime *rt, const char *path,
			 struct nsbpf_bpffs_dirent **ents);

/*
 * Serving another process. A runtime can act for a caller that is not the process it lives
 * in (the shim's host process serves its clients this way): user pointers then name the
 * caller's memory and fd numbers the caller's fd table, and new fds are the caller's.
 * nsbpf_set_caller() makes the calling thread act for @caller until it is set back to NULL
 * (the process itself). The caller's fds are sockets (see nsbpf_fd_share_all()); the
 * runtime knows them by the inode of the socket, whichever number each process gives it.
 */
/* One piece of a view of a map's memory: bytes of its memory file. */
struct nsbpf_mmap_seg {
	uint64_t file_off;
	uint64_t len;
};

/*
 * read, write and read_str are required. get_fd/put_fd, getcwd and mmap may be NULL for a
 * caller that shares them with this process (its fd table, working directory, address space):
 * a caller confining what memory a command may touch, for instance.
 */
struct nsbpf_caller_ops {
	/* Copies between the caller's memory and ours: 0 or -EFAULT. */
	int (*read)(void *ctx, void *dst, uint64_t src, size_t len);
	int (*write)(void *ctx, uint64_t dst, const void *src, size_t len);
	/* strncpy_from_user() in the caller: length without the NUL, @count, or -EFAULT. */
	long (*read_str)(void *ctx, char *dst, uint64_t src, size_t count);
	/*
	 * A copy in this process of the caller's @fd, which the runtime closes; -EBADF when the
	 * caller has no such fd open. *cloexec gets the caller's FD_CLOEXEC of it.
	 */
	int (*get_fd)(void *ctx, int fd, bool *cloexec);
	/* Hands the caller a copy of our @fd: the caller's new fd number, or -errno. */
	int (*put_fd)(void *ctx, int fd, bool cloexec);
	/* The caller's working directory (relative bpffs paths): 0 or -errno. */
	int (*getcwd)(void *ctx, char *buf, size_t size);
	/*
	 * mmap(2) in the caller of @nr pieces of @memfd laid end to end (@len bytes, at @addr if
	 * @flags has MAP_FIXED): 0 with the address in *out, or -errno.
	 */
	int (*mmap)(void *ctx, uint64_t addr, size_t len, int prot, int flags, int memfd,
		    const struct nsbpf_mmap_seg *segs, unsigned int nr, uint64_t *out);
};

struct nsbpf_caller {
	const struct nsbpf_caller_ops *ops;
	void *ctx;
};

/* The calling thread acts for @caller (NULL: for this process) in every runtime. */
void nsbpf_set_caller(const struct nsbpf_caller *caller);
/*
 * This process's memory, copied with the dispatcher's fault handling (what a caller's side
 * answers the runtime's reads and writes with): 0 or -EFAULT; the string copy returns as
 * nsbpf_caller_ops.read_str.
 */
int nsbpf_copy_from_user(void *dst, const void *src, size_t len);
int nsbpf_copy_to_user(void *dst, const void *src, size_t len);
long nsbpf_strncpy_from_user(char *dst, const void *src, size_t count);

/*
 * Files shared between processes. nsbpf_fd_share_all() turns every fd of the runtime into one
 * end of a socketpair (an fd and its dups share one socket), so that a process's copies of it
 * (fork, SCM_RIGHTS) are the same open file; the runtime keeps the other end (the peer) and
 * learns from it when the last copy in any process is closed. Files installed for a caller
 * (nsbpf_set_caller()) are made that way from the start. *peers gets a malloc()ed array of
 * the peer fds made (*nr of them), for a process that hands the runtime to a copy of itself
 * and must close its own copies of them. The fd numbers keep naming their files in this
 * process until nsbpf_fd_forget(). 0 or -errno.
 */
int nsbpf_fd_share_all(struct nsbpf_runtime *rt, int **peers, size_t *nr);
/*
 * An fd that polls readable when a shared file may have lost its last copy; then
 * nsbpf_fd_shared_reap() releases every such file, synchronously. Returns the number of
 * shared files still alive. -ENOENT (wait fd) before the first shared file.
 */
int nsbpf_fd_shared_wait_fd(struct nsbpf_runtime *rt);
long nsbpf_fd_shared_reap(struct nsbpf_runtime *rt);
/* Whether @fd (of this process) is one the runtime keeps for itself: its anchor, a peer, the wait fd. */
bool nsbpf_fd_internal(struct nsbpf_runtime *rt, int fd);

#ifdef __cplusplus
}
#endif
#endif /* NSBPF_BPF_H */
