// SPDX-License-Identifier: MIT
/*
 * shim.c - one nsbpf runtime standing in for the kernel's BPF subsystem, network namespaces
 * and cgroup2 hierarchy inside an unmodified process. The wrappers of preload.c land here;
 * each call either concerns the runtime (bpf(), one of its fds, a namespace or cgroup path)
 * and is answered by it, or goes to the real libc (libc.c) unchanged.
 *
 * The runtime is created on the first call that needs it, by whichever thread makes it, and
 * has one task that every thread of the process acts as: unshare(CLONE_NEWNET) and setns()
 * therefore move the whole process, where the kernel would move only the calling thread.
 * NSBPF_HOST in the environment changes where that runtime is: "serve" makes the process hand
 * it to a host process at once (it is a client from its first call, and other processes can
 * join: host.c), a process id makes the process a client of the host serving that process.
 *
 * It is never freed: destructors and atexit handlers of the program and its libraries may
 * still close fds or call bpf() after any destructor of ours would run, and the runtime's
 * worker threads would have to be joined in the middle of exit(). The OS reclaims it all.
 *
 * The runtime calls close(), dup() and open() itself, which resolve to our own wrappers: a
 * per-thread depth counter sends every call made from inside the runtime (or during its
 * creation) straight to libc. bpf() is never forwarded, not even then.
 *
 * fork(): the kernel shares one object between the processes that hold its fds, so a process
 * that forks hands its runtime over to a host process first (host.c) and from then on, like
 * its children, is a client of it (client.c): every call that concerns the runtime is sent
 * there, and answered by the same ops (ops.c). Until then calls stay in-process, at the speed
 * of a function call. Forks the wrapper does not see (clone(), fork() from inside libc) copy
 * the runtime: fork handlers make sure no other thread is inside it (a read-write lock every
 * entry takes for reading) and end its workers once idle, so that no lock is copied held;
 * parent and child each start new ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "nsbpf/bpf.h"
#include "shim.h"

static pthread_once_t shim_once = PTHREAD_ONCE_INIT;
/* Set once, at the end of shim_init(); NULL until then or if creation failed. */
static struct nsbpf_runtime *_Atomic shim_rt;
static struct nsbpf_task *shim_task; /* the process; never exits */
static int shim_init_err;	     /* why shim_rt is NULL after shim_init() */
/* This process is a host (host.c): every wrapper passes its call to libc. */
static bool shim_is_host;
/*
 * Taken for reading by every call into the runtime, for writing by the fork handler: no
 * thread is inside the runtime while the process forks.
 */
static pthread_rwlock_t shim_fork_lock = PTHREAD_RWLOCK_INITIALIZER;
/* What statfs() of the host's cgroup2 mount gives. */
static struct statfs cgroup_statfs;

/* Calls of this thread in progress inside the shim or the runtime: they go to libc. */
static __thread int shim_depth __attribute__((tls_model("initial-exec")));
/* Whether this thread has been made to act as shim_task. */
static __thread bool shim_thread_ready __attribute__((tls_model("initial-exec")));
/* This thread holds shim_fork_lock for writing (handing the runtime to a host). */
static __thread bool shim_fork_locked __attribute__((tls_model("initial-exec")));

static long shim_ret(long ret)
{
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static void shim_fork_prepare(void)
{
	/* A client's runtime is the host's; the copy it was made from is left alone. */
	struct nsbpf_runtime *rt = shim_client_active() ? NULL : atomic_load(&shim_rt);

	shim_depth++;
	if (!shim_fork_locked)
		pthread_rwlock_wrlock(&shim_fork_lock);
	/* Ends the workers once idle: no lock is copied held, no liburcu reader left over. */
	if (rt)
		nsbpf_runtime_before_fork(rt);
	urcu_memb_call_rcu_before_fork();
}

static void shim_fork_parent(void)
{
	struct nsbpf_runtime *rt = shim_client_active() ? NULL : atomic_load(&shim_rt);

	urcu_memb_call_rcu_after_fork_parent();
	if (rt)
		nsbpf_runtime_after_fork_parent(rt);
	if (!shim_fork_locked)
		pthread_rwlock_unlock(&shim_fork_lock);
	shim_depth--;
}

static void shim_fork_child(void)
{
	struct nsbpf_runtime *rt = shim_client_active() ? NULL : atomic_load(&shim_rt);

	/* Gives call_rcu() a thread again. */
	urcu_memb_call_rcu_after_fork_child();
	/* And the runtime its workers. Should that fail, nothing released here is torn down. */
	if (rt)
		nsbpf_runtime_after_fork_child(rt);
	/* Unlocking would not do: the lock knows its writer by a thread id the child lacks. */
	pthread_rwlock_init(&shim_fork_lock, NULL);
	shim_depth--;
}

static int shim_become_client(struct nsbpf_runtime *rt);

/*
 * NSBPF_HOST=PID: a client of the host serving process PID, if one does. Returns whether this
 * process is one now; a host that cannot be reached is said on stderr, and the process gets a
 * runtime of its own.
 */
static bool shim_join_host(const char *host)
{
	char *end;
	long pid = strtol(host, &end, 10);
	int err;

	if (!*host || *end || pid <= 0 || pid > INT_MAX) {
		dprintf(2, "nsbpf: NSBPF_HOST=%s: neither \"serve\" nor a process id\n", host);
		return false;
	}
	err = shim_client_connect((pid_t)pid);
	if (err)
		dprintf(2, "nsbpf: NSBPF_HOST=%s: no nsbpf host serves that process (%s)\n", host,
			strerror(-err));
	return !err;
}

static void shim_init(void)
{
	const struct shim_libc *libc = shim_libc();
	const char *host = getenv("NSBPF_HOST");
	struct nsbpf_runtime *rt;
	int err = 0;

	shim_depth++;
	shim_ops_init();
	if (shim_cgroup_mount())
		libc->statfs(shim_cgroup_mount(), &cgroup_statfs);
	cgroup_statfs.f_type = CGROUP2_SUPER_MAGIC;
	if (host && strcmp(host, "serve") && shim_join_host(host))
		goto out;

	err = nsbpf_runtime_new(NULL, &rt);
	if (err)
		goto out;
	err = nsbpf_task_new(rt, NULL, &shim_task);
	if (err) {
		nsbpf_runtime_free(rt);
		goto out;
	}
	err = -pthread_atfork(shim_fork_prepare, shim_fork_parent, shim_fork_child);
	if (err) {
		nsbpf_task_exit(shim_task);
		nsbpf_runtime_free(rt);
		goto out;
	}
	atomic_store(&shim_rt, rt);
	if (host && !strcmp(host, "serve") && shim_become_client(rt))
		dprintf(2, "nsbpf: NSBPF_HOST=serve: the host process did not start\n");
out:
	shim_init_err = -err;
	shim_depth--;
}

/* Entry into the runtime, and this thread's task set; the caller must shim_leave(). */
static struct nsbpf_runtime *shim_enter_locked(struct nsbpf_runtime *rt)
{
	shim_depth++;
	pthread_rwlock_rdlock(&shim_fork_lock);
	if (!shim_thread_ready) {
		nsbpf_set_current_task(rt, shim_task);
		shim_thread_ready = true;
	}
	return rt;
}

/* The runtime, created if need be; NULL with errno set when it cannot be had. */
static struct nsbpf_runtime *shim_enter(void)
{
	if (shim_depth || shim_is_host) {
		errno = ENOSYS;
		return NULL;
	}
	pthread_once(&shim_once, shim_init);
	if (!atomic_load(&shim_rt)) {
		errno = shim_init_err;
		return NULL;
	}
	return shim_enter_locked(atomic_load(&shim_rt));
}

/* The runtime if it exists already: before it does, no fd is one of its. */
static struct nsbpf_runtime *shim_enter_existing(void)
{
	struct nsbpf_runtime *rt = atomic_load(&shim_rt);

	return rt && !shim_depth && !shim_is_host ? shim_enter_locked(rt) : NULL;
}

static void shim_leave(void)
{
	pthread_rwlock_unlock(&shim_fork_lock);
	shim_depth--;
}

/*
 * Routes @c: to the host when this process is its client, else to the runtime here, created
 * first if @create. SHIM_KERNEL when there is no runtime to ask (and none is to be made).
 */
static long shim_call(struct shim_call *c, bool create)
{
	struct nsbpf_runtime *rt;
	long ret;

	if (shim_client_active())
		return shim_client_call(c);
	rt = create ? shim_enter() : shim_enter_existing();
	/* The first call may have made this process a client (NSBPF_HOST). */
	if (!rt && shim_client_active())
		return shim_client_call(c);
	if (!rt)
		return create ? -errno : SHIM_KERNEL;
	/* Handed to a host while this thread waited for the fork lock. */
	if (shim_client_active()) {
		shim_leave();
		return shim_client_call(c);
	}
	ret = shim_op_local(rt, shim_task, c);
	shim_leave();
	return ret;
}

static long shim_bpf(int cmd, void *attr, unsigned int size)
{
	struct shim_call c = { .op = SHIM_OP_BPF, .a = { cmd, (long)attr, size } };

	if (shim_depth || shim_is_host) {
		errno = ENOSYS;
		return -1;
	}
	return shim_ret(shim_call(&c, true));
}

int shim_unshare(int flags)
{
	struct shim_call c = { .op = SHIM_OP_UNSHARE_NET };
	int rest = flags & ~CLONE_NEWNET;

	if (!(flags & CLONE_NEWNET) || shim_depth || shim_is_host)
		return shim_libc()->unshare(flags);
	/* The other namespaces are the kernel's: they come first, and may fail alone. */
	if (rest && shim_libc()->unshare(rest))
		return -1;
	return (int)shim_ret(shim_call(&c, true));
}

int shim_setns(int fd, int nstype)
{
	struct shim_call c = { .op = SHIM_OP_SETNS, .a = { fd, nstype } };
	long ret = SHIM_KERNEL;

	if (!shim_depth && !shim_is_host &&
	    (!shim_client_active() || shim_client_fd_ours(fd)))
		ret = shim_call(&c, false);
	if (ret == SHIM_KERNEL)
		return shim_libc()->setns(fd, nstype);
	return (int)shim_ret(ret);
}

/* open("/proc/self/ns/net") and open() of a cgroup2 directory. */
static int open_ours(enum shim_op op, const char *rel, int flags)
{
	struct shim_call c = { .op = op, .a = { flags }, .str = rel };
	long fd = shim_call(&c, true);

	if (fd >= 0 && shim_client_active())
		shim_client_fd_set((int)fd, true);
	return (int)shim_ret(fd);
}

/* The text of an fdinfo file in an anonymous file, so that read() and stdio work on it. */
static int fdinfo_to_memfd(const char *text, size_t len, int flags)
{
	int fd = memfd_create("fdinfo", flags & O_CLOEXEC ? MFD_CLOEXEC : 0);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	for (; done < len; done += (size_t)n) {
		n = write(fd, text + done, len - done);
		if (n < 0) {
			n = -errno;
			shim_libc()->close(fd);
			return (int)n;
		}
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Whether @fd may be one of the runtime's, as far as this process can tell cheaply. */
static bool fd_maybe_ours(int fd)
{
	return shim_client_active() ? shim_client_fd_ours(fd) : atomic_load(&shim_rt) != NULL;
}

/* open("/proc/self/fdinfo/N"): 0 if N is not ours (the kernel answers). */
static int open_fdinfo(int ofd, int flags)
{
	char text[SHIM_OUT_MAX];
	struct shim_call c = { .op = SHIM_OP_FDINFO, .a = { ofd }, .out = text };
	long len;
	int fd;

	if (!fd_maybe_ours(ofd))
		return 0;
	len = shim_call(&c, false);
	if (len == SHIM_KERNEL)
		return 0;
	fd = len < 0 ? (int)len : fdinfo_to_memfd(text, c.out_len, flags);
	return (int)shim_ret(fd);
}

/*
 * @path as the *at() calls take it relative to @dirfd: an absolute name in @buf (PATH_MAX)
 * when @dirfd is dirfd() of a bpffs directory stream, since the fd itself is no directory of
 * the host's; @path unchanged otherwise.
 */
static const char *at_path(int dirfd, const char *path, int flags, char *buf)
{
	size_t len;

	if (!path || path[0] == '/' || (!path[0] && !(flags & AT_EMPTY_PATH)) ||
	    !shim_dir_fd_path(dirfd, buf))
		return path;
	len = strlen(buf);
	if (path[0] && (size_t)snprintf(buf + len, PATH_MAX - len, "/%s", path) >= PATH_MAX - len)
		return path;
	return buf;
}

int shim_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char rel[PATH_MAX], abs[PATH_MAX];
	int fd;

	if (!shim_depth && !shim_is_host) {
		if ((path = at_path(dirfd, path, 0, abs)) == abs)
			dirfd = AT_FDCWD;
		switch (shim_path_classify(path, &fd, rel)) {
		case SHIM_PATH_NS_NET:
			return open_ours(SHIM_OP_OPEN_NET, NULL, flags);
		case SHIM_PATH_FDINFO:
			fd = open_fdinfo(fd, flags);
			if (fd)
				return fd;
			break;
		case SHIM_PATH_CGROUP:
			return open_ours(SHIM_OP_OPEN_CGROUP, rel, flags);
		default:
			break;
		}
	}
	return shim_libc()->openat(dirfd, path, flags, mode);
}

/* fopen()'s mode as open() flags; only reading is ever redirected. */
static bool fopen_read_flags(const char *mode, int *flags)
{
	if (mode[0] != 'r' || strchr(mode, '+'))
		return false;
	*flags = O_RDONLY | (strchr(mode, 'e') ? O_CLOEXEC : 0);
	return true;
}

FILE *shim_fopen(const char *path, const char *mode)
{
	char rel[PATH_MAX];
	FILE *f;
	int fd, flags, err;

	/* glibc's fopen() opens without going through open(): redirect what we answer. */
	if (shim_depth || shim_is_host || shim_path_classify(path, &fd, rel) == SHIM_PATH_OTHER ||
	    !fopen_read_flags(mode, &flags))
		return shim_libc()->fopen(path, mode);
	fd = shim_openat(AT_FDCWD, path, flags, 0);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, mode);
	if (!f) {
		err = errno;
		shim_close(fd);
		errno = err;
	}
	return f;
}

int shim_close(int fd)
{
	struct nsbpf_runtime *rt;
	int err;

	if (shim_client_active() && !shim_depth) {
		if (!shim_client_fd_ours(fd))
			return shim_libc()->close(fd);
		err = shim_libc()->close(fd);
		shim_client_fd_set(fd, false);
		/* The host releases the object now if this was its last fd anywhere. */
		shim_client_sync();
		return err;
	}
	rt = shim_enter_existing();
	if (!rt)
		return shim_libc()->close(fd);
	if (nsbpf_fd_owned(rt, fd)) {
		err = nsbpf_fd_close(rt, fd);
		shim_leave();
		return (int)shim_ret(err);
	}
	shim_leave();
	return shim_libc()->close(fd);
}

void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shim_call c = { .op = SHIM_OP_MMAP,
			       .a = { fd, (long)len, prot, flags, off, (long)addr } };
	long ret;

	if ((flags & MAP_ANONYMOUS) || fd < 0 || shim_depth || shim_is_host ||
	    (shim_client_active() && !shim_client_fd_ours(fd)))
		return shim_libc()->mmap(addr, len, prot, flags, fd, off);
	if (!shim_client_active()) {
		struct nsbpf_runtime *rt = shim_enter_existing();
		bool owned = rt && nsbpf_fd_owned(rt, fd);

		if (rt)
			shim_leave();
		if (!owned)
			return shim_libc()->mmap(addr, len, prot, flags, fd, off);
	}
	ret = shim_call(&c, false);
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return MAP_FAILED;
	}
	return (void *)ret;
}

int shim_munmap(void *addr, size_t len)
{
	struct shim_call c = { .op = SHIM_OP_MUNMAP, .a = { (long)addr, (long)len } };

	if (shim_libc()->munmap(addr, len))
		return -1;
	/* the pages are gone; now the runtime forgets the mappings the range ended */
	if (!shim_depth && !shim_is_host && !shim_client_active())
		shim_call(&c, false);
	return 0;
}

/* The highest fd the process can have: close_range()'s end in practice. */
static unsigned int max_fd(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		return INT_MAX;
	return rl.rlim_cur ? (unsigned int)rl.rlim_cur - 1 : 0;
}

int shim_close_range(unsigned int first, unsigned int last, int flags)
{
	struct nsbpf_runtime *rt;
	unsigned int fd;
	bool closed = false;

	if (shim_libc()->close_range(first, last, flags))
		return -1;
	if (last > max_fd())
		last = max_fd();
	if (shim_client_active() && !shim_depth) {
		/* The kernel keeps FD_CLOEXEC of the host's files: only closes matter. */
		for (fd = first; !(flags & CLOSE_RANGE_CLOEXEC) && fd <= last && fd <= INT_MAX; fd++) {
			if (shim_client_fd_ours((int)fd)) {
				shim_client_fd_set((int)fd, false);
				closed = true;
			}
		}
		if (closed)
			shim_client_sync();
		return 0;
	}
	rt = shim_enter_existing();
	if (!rt)
		return 0;
	for (fd = first; fd <= last && fd <= INT_MAX; fd++) {
		if (flags & CLOSE_RANGE_CLOEXEC) {
			if (nsbpf_fd_owned(rt, (int)fd))
				nsbpf_fd_set_cloexec(rt, (int)fd, true);
		} else {
			nsbpf_fd_forget(rt, (int)fd);
		}
	}
	shim_leave();
	return 0;
}

/* The kernel made @newfd a copy of @oldfd: tell the runtime what @newfd is now. */
static int dup_done(int oldfd, int newfd, bool cloexec)
{
	struct nsbpf_runtime *rt;
	int err = 0;

	if (newfd < 0 || oldfd == newfd)
		return newfd;
	if (shim_client_active() && !shim_depth) {
		bool was_ours = shim_client_fd_ours(newfd);

		shim_client_fd_set(newfd, shim_client_fd_ours(oldfd));
		/* dup2() over one of the host's files closed it */
		if (was_ours)
			shim_client_sync();
		return newfd;
	}
	rt = shim_enter_existing();
	if (!rt)
		return newfd;
	if (nsbpf_fd_owned(rt, oldfd))
		err = nsbpf_fd_dup(rt, oldfd, newfd, cloexec);
	else
		nsbpf_fd_forget(rt, newfd);
	shim_leave();
	if (err) {
		shim_libc()->close(newfd);
		return (int)shim_ret(err);
	}
	return newfd;
}

int shim_dup(int fd)
{
	return dup_done(fd, shim_libc()->dup(fd), false);
}

int shim_dup2(int oldfd, int newfd)
{
	return dup_done(oldfd, shim_libc()->dup2(oldfd, newfd), false);
}

int shim_dup3(int oldfd, int newfd, int flags)
{
	return dup_done(oldfd, shim_libc()->dup3(oldfd, newfd, flags), flags & O_CLOEXEC);
}

int shim_fcntl(int fd, int cmd, void *arg)
{
	int ret = shim_libc()->fcntl(fd, cmd, arg);
	struct nsbpf_runtime *rt;

	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return dup_done(fd, ret, cmd == F_DUPFD_CLOEXEC);
	if (cmd != F_SETFD || ret < 0 || shim_client_active())
		return ret;
	rt = shim_enter_existing();
	if (rt) {
		if (nsbpf_fd_owned(rt, fd))
			nsbpf_fd_set_cloexec(rt, fd, (long)arg & FD_CLOEXEC);
		shim_leave();
	}
	return ret;
}

/* stat of a namespace or cgroup fd. Returns 1 if @fd is one of those, 0 if the kernel answers. */
static int fd_stat(int fd, struct stat *st)
{
	struct shim_call c = { .op = SHIM_OP_FD_STAT, .a = { fd }, .out = (char *)st };

	if (shim_depth || shim_is_host || !fd_maybe_ours(fd))
		return 0;
	return shim_call(&c, false) == 0;
}

/* stat of a name the shim answers for: 0, -errno, or 1 if the kernel answers. */
static int path_stat(const char *path, int flags, struct stat *st)
{
	char rel[PATH_MAX];
	struct shim_call c = { .op = SHIM_OP_PATH_STAT, .str = rel, .out = (char *)st };
	int fd;
	long err;

	c.a[0] = shim_path_classify(path, &fd, rel);
	c.a[1] = flags;
	switch (c.a[0]) {
	case SHIM_PATH_NS_NET:
		/* Without following it, it is the kernel's /proc symlink. */
		if (flags & AT_SYMLINK_NOFOLLOW)
			return 1;
		break;
	case SHIM_PATH_CGROUP:
	case SHIM_PATH_BPFFS:
		break;
	default:
		return 1;
	}
	err = shim_call(&c, true);
	return err == SHIM_KERNEL ? 1 : (int)err;
}

int shim_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	char abs[PATH_MAX];
	int err;

	if (shim_depth || shim_is_host)
		return shim_libc()->fstatat(dirfd, path, st, flags);
	path = at_path(dirfd, path, flags, abs);
	if (path == abs)
		dirfd = AT_FDCWD;
	if (path && !path[0] && (flags & AT_EMPTY_PATH) && fd_stat(dirfd, st))
		return 0;
	err = path ? path_stat(path, flags, st) : 1;
	if (err <= 0)
		return (int)shim_ret(err);
	return shim_libc()->fstatat(dirfd, path, st, flags);
}

static void stat_to_statx(const struct stat *st, struct statx *stx)
{
	memset(stx, 0, sizeof(*stx));
	stx->stx_mask = STATX_BASIC_STATS;
	stx->stx_blksize = (uint32_t)st->st_blksize;
	stx->stx_nlink = (uint32_t)st->st_nlink;
	stx->stx_uid = st->st_uid;
	stx->stx_gid = st->st_gid;
	stx->stx_mode = (uint16_t)st->st_mode;
	stx->stx_ino = st->st_ino;
	stx->stx_size = (uint64_t)st->st_size;
	stx->stx_blocks = (uint64_t)st->st_blocks;
	stx->stx_atime.tv_sec = st->st_atim.tv_sec;
	stx->stx_mtime.tv_sec = st->st_mtim.tv_sec;
	stx->stx_ctime.tv_sec = st->st_ctim.tv_sec;
	stx->stx_dev_major = major(st->st_dev);
	stx->stx_dev_minor = minor(st->st_dev);
}

int shim_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	char abs[PATH_MAX];
	struct stat st;
	int err = 1;

	if (shim_depth || shim_is_host)
		return shim_libc()->statx(dirfd, path, flags, mask, stx);
	path = at_path(dirfd, path, flags, abs);
	if (path == abs)
		dirfd = AT_FDCWD;
	if (path && !path[0] && (flags & AT_EMPTY_PATH))
		err = fd_stat(dirfd, &st) ? 0 : 1;
	else if (path)
		err = path_stat(path, flags, &st);
	if (err > 0)
		return shim_libc()->statx(dirfd, path, flags, mask, stx);
	if (!err)
		stat_to_statx(&st, stx);
	return (int)shim_ret(err);
}

/* What statfs() says of a bpffs mount. */
static void bpffs_statfs(struct statfs *buf)
{
	memset(buf, 0, sizeof(*buf));
	buf->f_type = BPF_FS_MAGIC;
	buf->f_bsize = 4096;
	buf->f_frsize = 4096;
	buf->f_namelen = 255;
	buf->f_flags = ST_RELATIME;
}

int shim_statfs(const char *path, struct statfs *buf)
{
	char rel[PATH_MAX];
	struct stat st;
	int fd, err;

	if (shim_depth || shim_is_host)
		return shim_libc()->statfs(path, buf);
	switch (shim_path_classify(path, &fd, rel)) {
	case SHIM_PATH_BPFFS:
		bpffs_statfs(buf);
		return 0;
	case SHIM_PATH_CGROUP:
		err = path_stat(path, 0, &st);
		if (!err)
			*buf = cgroup_statfs;
		return (int)shim_ret(err);
	default:
		return shim_libc()->statfs(path, buf);
	}
}

int shim_fstatfs(int fd, struct statfs *buf)
{
	struct stat st;

	if (shim_depth || shim_is_host || !fd_stat(fd, &st))
		return shim_libc()->fstatfs(fd, buf);
	if (S_ISDIR(st.st_mode)) {
		*buf = cgroup_statfs;
	} else {
		memset(buf, 0, sizeof(*buf));
		buf->f_type = NSFS_MAGIC;
		buf->f_bsize = 4096;
		buf->f_namelen = 255;
	}
	return 0;
}

/* mkdir/rmdir/unlink of a cgroup or bpffs name: 0, -errno, or 1 if the kernel answers. */
static int path_change(const char *path, int op, mode_t mode)
{
	char rel[PATH_MAX];
	struct shim_call c = { .op = SHIM_OP_PATH_CHANGE, .str = rel };
	int fd;
	long err;

	c.a[0] = shim_path_classify(path, &fd, rel);
	c.a[1] = op;
	c.a[2] = (long)mode;
	if (c.a[0] != SHIM_PATH_CGROUP && c.a[0] != SHIM_PATH_BPFFS)
		return 1;
	err = shim_call(&c, true);
	return err == SHIM_KERNEL ? 1 : (int)err;
}

int shim_mkdirat(int dirfd, const char *path, mode_t mode)
{
	char abs[PATH_MAX];
	int err;

	if (!shim_depth && (path = at_path(dirfd, path, 0, abs)) == abs)
		dirfd = AT_FDCWD;
	err = shim_depth || shim_is_host ? 1 : path_change(path, 'm', mode);

	if (err <= 0)
		return (int)shim_ret(err);
	return shim_libc()->mkdirat(dirfd, path, mode);
}

int shim_unlinkat(int dirfd, const char *path, int flags)
{
	char abs[PATH_MAX];
	int err;

	if (!shim_depth && (path = at_path(dirfd, path, 0, abs)) == abs)
		dirfd = AT_FDCWD;
	err = shim_depth || shim_is_host ? 1 : path_change(path, flags & AT_REMOVEDIR ? 'r' : 'u', 0);

	if (err <= 0)
		return (int)shim_ret(err);
	return shim_libc()->unlinkat(dirfd, path, flags);
}

/* readlink(): the text truncated to @size, no NUL, as the kernel does. */
static ssize_t readlink_copy(const char *text, long len, char *buf, size_t size)
{
	if (len < 0)
		return shim_ret(len);
	if ((size_t)len > size)
		len = (long)size;
	memcpy(buf, text, (size_t)len);
	return len;
}

/* readlink of /proc/self/fd/N or /proc/self/ns/net: 1 if the kernel answers. */
static ssize_t path_readlink(const char *path, char *buf, size_t size)
{
	char rel[PATH_MAX], text[SHIM_OUT_MAX];
	struct shim_call c = { .op = SHIM_OP_READLINK, .out = text };
	int fd;
	long len;

	c.a[0] = shim_path_classify(path, &fd, rel);
	c.a[1] = fd;
	if (c.a[0] == SHIM_PATH_FD && !fd_maybe_ours(fd))
		return 1;
	if (c.a[0] != SHIM_PATH_NS_NET && c.a[0] != SHIM_PATH_FD)
		return 1;
	len = shim_call(&c, c.a[0] == SHIM_PATH_NS_NET);
	if (len == SHIM_KERNEL)
		return 1;
	return readlink_copy(text, len < 0 ? len : (long)c.out_len, buf, size);
}

long shim_bpffs_readdir(const char *path, struct nsbpf_bpffs_dirent **ents)
{
	char rel[PATH_MAX];
	struct shim_call c = { .op = SHIM_OP_READDIR, .str = rel };
	long n;
	int fd;

	if (shim_depth || shim_is_host || shim_path_classify(path, &fd, rel) != SHIM_PATH_BPFFS)
		return 0;
	n = shim_call(&c, true);
	if (n == SHIM_KERNEL)
		return 0;
	*ents = c.out_alloc;
	return n;
}

ssize_t shim_readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t ret = 1;

	if (!shim_depth && !shim_is_host && size)
		ret = path_readlink(path, buf, size);
	if (ret != 1)
		return ret;
	return shim_libc()->readlinkat(dirfd, path, buf, size);
}

void shim_set_host(void)
{
	shim_is_host = true;
	shim_fork_locked = false;
	/* copied held by the thread that forked: nothing here takes it again */
	pthread_rwlock_init(&shim_fork_lock, NULL);
}

/*
 * Hands this process's runtime to a new host process and makes the process its client: 0, or
 * -errno with the process as it was (the runtime still here).
 */
static int shim_become_client(struct nsbpf_runtime *rt)
{
	if (shim_client_active())
		return 0;
	int err;

	shim_depth++;
	pthread_rwlock_wrlock(&shim_fork_lock);
	shim_fork_locked = true;
	/* On success the copy left here is not used again: its workers stay ended. */
	err = shim_client_active() ? 0 : shim_host_start(rt, shim_task);
	shim_fork_locked = false;
	pthread_rwlock_unlock(&shim_fork_lock);
	shim_depth--;
	return err;
}

/*
 * fork(): a process with a runtime hands it to a host first, then forks as a client (the
 * child becomes one too). Should the host not start, the child gets a copy, as before.
 */
pid_t shim_fork(void)
{
	struct nsbpf_runtime *rt = atomic_load(&shim_rt);

	if (shim_depth || shim_is_host || (!rt && !shim_client_active()))
		return shim_libc()->fork();
	if (!shim_client_active() && shim_become_client(rt))
		return shim_libc()->fork();
	return shim_client_fork();
}

/* Calls @fn for every fd an SCM_RIGHTS message of @msg carries; stops when it returns true. */
static bool for_each_passed_fd(const struct msghdr *msg, bool (*fn)(int fd, void *arg), void *arg)
{
	struct cmsghdr *cm;
	size_t i, n;
	int fd;

	if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
		return false;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)msg); cm; cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fn(fd, arg))
				return true;
		}
	}
	return false;
}

static bool fd_is_owned(int fd, void *rt)
{
	return nsbpf_fd_owned(rt, fd);
}

/*
 * sendmsg() passing one of the runtime's fds to another process: that process must reach the
 * same object, so the runtime goes to a host first (the fds become its sockets, at the same
 * numbers), whose files the receiver can adopt.
 */
ssize_t shim_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct nsbpf_runtime *rt = atomic_load(&shim_rt);
	bool passes_ours = false;

	if (rt && !shim_depth && !shim_is_host && !shim_client_active()) {
		rt = shim_enter_existing();
		if (rt) {
			passes_ours = for_each_passed_fd(msg, fd_is_owned, rt);
			shim_leave();
		}
		/* Should no host start, the receiver gets a plain fd, as before. */
		if (passes_ours)
			shim_become_client(rt);
	}
	return shim_libc()->sendmsg(fd, msg, flags);
}

/* A received fd: one of our host's files is recorded as such; another host's is adopted. */
static bool adopt_passed_fd(int fd, void *arg)
{
	struct shim_call c = { .op = SHIM_OP_FDINFO, .a = { fd } };
	char text[SHIM_OUT_MAX];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;

	(void)arg;
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return false;
	if (shim_client_active()) {
		c.out = text;
		if (shim_client_call(&c) != SHIM_KERNEL)
			shim_client_fd_set(fd, true);
		return false;
	}
	/* Only a process without a runtime of its own can take another's. */
	if (atomic_load(&shim_rt) || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	shim_client_adopt(fd, cred.pid);
	return false;
}

ssize_t shim_recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t n = shim_libc()->recvmsg(fd, msg, flags);

	if (n >= 0 && !shim_depth && !shim_is_host)
		for_each_passed_fd(msg, adopt_passed_fd, NULL);
	return n;
}

long shim_syscall(long nr, const long a[6])
{
	switch (nr) {
	case __NR_bpf:
		/* Never the kernel's, even from inside the runtime. */
		return shim_bpf((int)a[0], (void *)a[1], (unsigned int)a[2]);
	case __NR_close:
		return shim_close((int)a[0]);
	case __NR_close_range:
		return shim_close_range((unsigned int)a[0], (unsigned int)a[1], (int)a[2]);
	case __NR_dup:
		return shim_dup((int)a[0]);
	case __NR_dup2:
		return shim_dup2((int)a[0], (int)a[1]);
	case __NR_dup3:
		return shim_dup3((int)a[0], (int)a[1], (int)a[2]);
	case __NR_fcntl:
		return shim_fcntl((int)a[0], (int)a[1], (void *)a[2]);
	case __NR_unshare:
		return shim_unshare((int)a[0]);
	case __NR_setns:
		return shim_setns((int)a[0], (int)a[1]);
	case __NR_open:
		return shim_openat(AT_FDCWD, (const char *)a[0], (int)a[1], (mode_t)a[2]);
	case __NR_openat:
		return shim_openat((int)a[0], (const char *)a[1], (int)a[2], (mode_t)a[3]);
	case __NR_mkdir:
		return shim_mkdirat(AT_FDCWD, (const char *)a[0], (mode_t)a[1]);
	case __NR_mkdirat:
		return shim_mkdirat((int)a[0], (const char *)a[1], (mode_t)a[2]);
	case __NR_rmdir:
		return shim_unlinkat(AT_FDCWD, (const char *)a[0], AT_REMOVEDIR);
	case __NR_unlink:
		return shim_unlinkat(AT_FDCWD, (const char *)a[0], 0);
	case __NR_unlinkat:
		return shim_unlinkat((int)a[0], (const char *)a[1], (int)a[2]);
	case __NR_readlink:
		return shim_readlinkat(AT_FDCWD, (const char *)a[0], (char *)a[1], (size_t)a[2]);
	case __NR_readlinkat:
		return shim_readlinkat((int)a[0], (const char *)a[1], (char *)a[2], (size_t)a[3]);
	case __NR_fstat:
		return shim_fstatat((int)a[0], "", (struct stat *)a[1], AT_EMPTY_PATH);
	case __NR_newfstatat:
		return shim_fstatat((int)a[0], (const char *)a[1], (struct stat *)a[2], (int)a[3]);
	case __NR_statx:
		return shim_statx((int)a[0], (const char *)a[1], (int)a[2], (unsigned int)a[3],
				  (struct statx *)a[4]);
	case __NR_statfs:
		return shim_statfs((const char *)a[0], (struct statfs *)a[1]);
	case __NR_fstatfs:
		return shim_fstatfs((int)a[0], (struct statfs *)a[1]);
	default:
		return shim_libc()->syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}
