/* SPDX-License-Identifier: MIT */
/*
 * shim.h - what the two faces of the shim share. preload.c is compiled twice: as
 * libnsbpf-preload.so, whose functions take the libc names (close, syscall, ...) and win over
 * libc by LD_PRELOAD, and as nsbpf-wrap.o, whose functions are __wrap_close, __wrap_syscall,
 * ... for programs linked with -Wl,--wrap=NAME. Either way each wrapper is one call into the
 * shim_*() functions below (shim.c), which decide whether the call is about one of the
 * runtime's objects and otherwise pass it to the real libc function (libc.c).
 *
 * Every shim_*() function behaves as the libc function of the same name: -1 (or NULL) with
 * errno set on failure.
 */
#ifndef NSBPF_SHIM_H
#define NSBPF_SHIM_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/statfs.h>
#include <sys/types.h>

struct nsbpf_runtime;
struct nsbpf_bpffs_dirent;

/* The real libc functions the shim forwards to; each is what its name says. */
struct shim_libc {
	long (*syscall)(long nr, ...);
	int (*unshare)(int flags);
	int (*setns)(int fd, int nstype);
	int (*openat)(int dirfd, const char *path, int flags, ...);
	FILE *(*fopen)(const char *path, const char *mode);
	int (*close)(int fd);
	int (*close_range)(unsigned int first, unsigned int last, int flags);
	int (*dup)(int fd);
	int (*dup2)(int oldfd, int newfd);
	int (*dup3)(int oldfd, int newfd, int flags);
	int (*fcntl)(int fd, int cmd, ...);
	int (*fstatat)(int dirfd, const char *path, struct stat *st, int flags);
	int (*statx)(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx);
	int (*statfs)(const char *path, struct statfs *buf);
	int (*fstatfs)(int fd, struct statfs *buf);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	ssize_t (*readlinkat)(int dirfd, const char *path, char *buf, size_t size);
	DIR *(*opendir)(const char *path);
	struct dirent *(*readdir)(DIR *d);
	struct dirent64 *(*readdir64)(DIR *d);
	int (*closedir)(DIR *d);
	void (*rewinddir)(DIR *d);
	long (*telldir)(DIR *d);
	void (*seekdir)(DIR *d, long loc);
	int (*dirfd)(DIR *d);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	pid_t (*fork)(void);
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
};

/* libc.c: the real functions, looked up once with dlsym(RTLD_NEXT); aborts if one is missing. */
const struct shim_libc *shim_libc(void);

/* paths.c: which of the process's file names the shim answers for. */
enum shim_path_kind {
	SHIM_PATH_OTHER,  /* the kernel's */
	SHIM_PATH_NS_NET, /* /proc/{self,thread-self,PID}/ns/net */
	SHIM_PATH_FDINFO, /* /proc/{self,thread-self,PID}/fdinfo/N */
	SHIM_PATH_FD,	  /* /proc/{self,thread-self,PID}/fd/N */
	SHIM_PATH_CGROUP, /* the cgroup2 mount point or below it */
	SHIM_PATH_BPFFS,  /* /sys/fs/bpf or below it */
};

/*
 * The kind of an absolute @path (a relative one is always the kernel's). For _FDINFO and _FD,
 * *fd gets N; for _CGROUP, @rel (PATH_MAX bytes) gets the path below the mount point ("/",
 * "/a/b"), for _BPFFS the whole path.
 */
enum shim_path_kind shim_path_classify(const char *path, int *fd, char *rel);
/* The cgroup2 mount point (from /proc/self/mounts), or NULL if the host has none. */
const char *shim_cgroup_mount(void);

/* shim.c */
/*
 * What the shim asks of the runtime, one call each (ops.c). In-process they are answered by
 * the runtime in this process; once the process has handed its runtime to a host process
 * (fork, or sending one of its fds to another process: host.c), by the host, which runs the
 * same ops for it (client.c sends them).
 */
enum shim_op {
	SHIM_OP_BPF,	     /* a: cmd, attr, size */
	SHIM_OP_UNSHARE_NET, /* the task to a new network namespace */
	SHIM_OP_SETNS,	     /* a: fd, nstype */
	SHIM_OP_OPEN_NET,    /* a: open flags; the task's namespace */
	SHIM_OP_OPEN_CGROUP, /* a: open flags; str: path below the mount point */
	SHIM_OP_FDINFO,	     /* a: fd; out: the text */
	SHIM_OP_FD_STAT,     /* a: fd; out: struct stat */
	SHIM_OP_PATH_STAT,   /* a: path kind, AT_ flags; str; out: struct stat */
	SHIM_OP_PATH_CHANGE, /* a: path kind, 'm'kdir / 'r'mdir / 'u'nlink, mode; str */
	SHIM_OP_READLINK,    /* a: path kind, fd; out: the text */
	SHIM_OP_READDIR,     /* str: bpffs directory; out: struct nsbpf_bpffs_dirent[] */
	SHIM_OP_MMAP,	     /* a: fd, len, prot, flags, off, addr */
	SHIM_OP_MUNMAP,	     /* a: addr, len */
	/* Between a client and its host only. */
	SHIM_OP_FORK,	     /* fd: the socket of a child about to be forked */
	SHIM_OP_SYNC,	     /* the client closed fds: release what they held last */
	SHIM_OP_MAX,
};

/* The result of an op that the kernel answers instead (a path or fd that is not ours). */
#define SHIM_KERNEL (-4097L)

#define SHIM_OUT_MAX 8192 /* fixed-size results: stat, fdinfo, readlink text */

struct shim_call {
	enum shim_op op;
	long a[6];
	const char *str; /* NUL-terminated, or NULL */
	/* Results: out (SHIM_OUT_MAX bytes) or, for READDIR, a malloc()ed array in out_alloc. */
	char *out;
	size_t out_len;
	void *out_alloc;
};

struct nsbpf_task;

/* Answers @c with @rt as @task (ops.c): the op's value, -errno, or SHIM_KERNEL. */
long shim_op_local(struct nsbpf_runtime *rt, struct nsbpf_task *task, struct shim_call *c);
/* Reads what the host's own objects look like (stat templates); once, before any op. */
void shim_ops_init(void);

/* The client's side (client.c): whether this process is one, and its calls. */
bool shim_client_active(void);
long shim_client_call(struct shim_call *c);
/* Makes this process a client over @sock (its own fds listed in @fds), or a forked child's. */
void shim_client_start(int sock, const int *fds, size_t nr_fds);
int shim_client_fork(void);
/*
 * A process without a runtime received @fd: if it is a file of a host (that of process @pid),
 * the process becomes that host's client. Returns whether it did.
 */
bool shim_client_adopt(int fd, pid_t pid);
/* Makes this process a client of the host that listens for process @pid: 0 or -errno. */
int shim_client_connect(pid_t pid);
/* The client's record of which fds are the host's files (dups and closes keep it true). */
bool shim_client_fd_ours(int fd);
void shim_client_fd_set(int fd, bool ours);
/* After closes of host files: lets the host release what they held last. */
void shim_client_sync(void);

/*
 * The host (host.c): hands this process's runtime to a new host process and makes the process
 * its client. The caller has stopped every other thread from entering the runtime.
 */
int shim_host_start(struct nsbpf_runtime *rt, struct nsbpf_task *task);
/* In the host: every wrapper passes its call to libc from now on. */
void shim_set_host(void);

long shim_syscall(long nr, const long args[6]);
int shim_unshare(int flags);
int shim_setns(int fd, int nstype);
int shim_openat(int dirfd, const char *path, int flags, mode_t mode);
FILE *shim_fopen(const char *path, const char *mode);
int shim_close(int fd);
int shim_close_range(unsigned int first, unsigned int last, int flags);
void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int shim_munmap(void *addr, size_t len);
int shim_dup(int fd);
int shim_dup2(int oldfd, int newfd);
int shim_dup3(int oldfd, int newfd, int flags);
int shim_fcntl(int fd, int cmd, void *arg);
int shim_fstatat(int dirfd, const char *path, struct stat *st, int flags);
int shim_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx);
int shim_statfs(const char *path, struct statfs *buf);
int shim_fstatfs(int fd, struct statfs *buf);
int shim_mkdirat(int dirfd, const char *path, mode_t mode);
int shim_unlinkat(int dirfd, const char *path, int flags);
ssize_t shim_readlinkat(int dirfd, const char *path, char *buf, size_t size);
/* The listing of a bpffs directory: the number of entries, -errno, or 0 if the kernel's. */
long shim_bpffs_readdir(const char *path, struct nsbpf_bpffs_dirent **ents);

/*
 * dir.c: opendir() of a bpffs directory gives a DIR of the shim's own, listing the runtime's
 * entries; every other DIR is libc's and passed through.
 */
DIR *shim_opendir(const char *path);
struct dirent *shim_readdir(DIR *d);
struct dirent64 *shim_readdir64(DIR *d);
int shim_closedir(DIR *d);
void shim_rewinddir(DIR *d);
long shim_telldir(DIR *d);
void shim_seekdir(DIR *d, long loc);
int shim_dirfd(DIR *d);
pid_t shim_fork(void);
ssize_t shim_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t shim_recvmsg(int fd, struct msghdr *msg, int flags);

/* The abstract socket name a host listens on for processes @pid's files reach ("" first). */
int shim_host_address(pid_t pid, struct sockaddr_un *addr, socklen_t *len);
/* Whether @fd is dirfd() of one of the shim's DIRs; @buf (PATH_MAX) gets its directory. */
bool shim_dir_fd_path(int fd, char *buf);

#endif /* NSBPF_SHIM_H */
