// SPDX-License-Identifier: MIT
/*
 * preload.c - the libc functions the shim stands in for, one short wrapper each. Built as
 * libnsbpf-preload.so the wrappers take the libc names themselves, for LD_PRELOAD; built with
 * SHIM_WRAP (nsbpf-wrap.o) they are named __wrap_NAME, for programs linked with
 * -Wl,--wrap=NAME, such as tests linking libbpf.a. Every name glibc 2.36 exports for the same
 * call is covered (open and open64, the _FORTIFY_SOURCE variants, fcntl64, stat64 ...), since
 * an unmodified program binds to whichever its headers chose; glibc's own internal calls
 * (stat() calling fstatat64(), fopen() opening) do not pass through these names, hence
 * wrappers of both the outer and the inner functions.
 */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "shim.h"

#ifdef SHIM_WRAP
#define WRAP(name) __wrap_##name
#else
#define WRAP(name) name
#endif
#define SHIM_EXPORT __attribute__((visibility("default")))

/* glibc's fortify failure report, which does not return. */
extern void __chk_fail(void) __attribute__((noreturn));

/* open()'s mode is there only when the flags create a file. */
#define OPEN_MODE(flags, last)                                                                     \
	({                                                                                         \
		mode_t _mode = 0;                                                                  \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {                                           \
			va_list _ap;                                                               \
			va_start(_ap, last);                                                       \
			_mode = va_arg(_ap, mode_t);                                               \
			va_end(_ap);                                                               \
		}                                                                                  \
		_mode;                                                                             \
	})

SHIM_EXPORT long WRAP(syscall)(long nr, ...)
{
	long args[6];
	va_list ap;
	int i;

	/* The kernel takes six register arguments whatever the call; so does libc's syscall(). */
	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		args[i] = va_arg(ap, long);
	va_end(ap);
	return shim_syscall(nr, args);
}

SHIM_EXPORT pid_t WRAP(fork)(void)
{
	return shim_fork();
}

SHIM_EXPORT ssize_t WRAP(sendmsg)(int fd, const struct msghdr *msg, int flags)
{
	return shim_sendmsg(fd, msg, flags);
}

SHIM_EXPORT ssize_t WRAP(recvmsg)(int fd, struct msghdr *msg, int flags)
{
	return shim_recvmsg(fd, msg, flags);
}

SHIM_EXPORT int WRAP(unshare)(int flags)
{
	return shim_unshare(flags);
}

SHIM_EXPORT int WRAP(setns)(int fd, int nstype)
{
	return shim_setns(fd, nstype);
}

SHIM_EXPORT int WRAP(open)(const char *path, int flags, ...)
{
	return shim_openat(AT_FDCWD, path, flags, OPEN_MODE(flags, flags));
}

SHIM_EXPORT int WRAP(open64)(const char *path, int flags, ...)
{
	return shim_openat(AT_FDCWD, path, flags, OPEN_MODE(flags, flags));
}

SHIM_EXPORT int WRAP(__open_2)(const char *path, int flags)
{
	return shim_openat(AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int WRAP(__open64_2)(const char *path, int flags)
{
	return shim_openat(AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int WRAP(openat)(int dirfd, const char *path, int flags, ...)
{
	return shim_openat(dirfd, path, flags, OPEN_MODE(flags, flags));
}

SHIM_EXPORT int WRAP(openat64)(int dirfd, const char *path, int flags, ...)
{
	return shim_openat(dirfd, path, flags, OPEN_MODE(flags, flags));
}

SHIM_EXPORT int WRAP(__openat_2)(int dirfd, const char *path, int flags)
{
	return shim_openat(dirfd, path, flags, 0);
}

SHIM_EXPORT int WRAP(__openat64_2)(int dirfd, const char *path, int flags)
{
	return shim_openat(dirfd, path, flags, 0);
}

SHIM_EXPORT FILE *WRAP(fopen)(const char *path, const char *mode)
{
	return shim_fopen(path, mode);
}

SHIM_EXPORT FILE *WRAP(fopen64)(const char *path, const char *mode)
{
	return shim_fopen(path, mode);
}

SHIM_EXPORT int WRAP(close)(int fd)
{
	return shim_close(fd);
}

/* libbpf maps global data (.data, .bss, .rodata arrays) and ring buffers through their fds. */
SHIM_EXPORT void *WRAP(mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *WRAP(mmap64)(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return shim_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int WRAP(munmap)(void *addr, size_t len)
{
	return shim_munmap(addr, len);
}

SHIM_EXPORT int WRAP(close_range)(unsigned int first, unsigned int last, int flags)
{
	return shim_close_range(first, last, flags);
}

SHIM_EXPORT int WRAP(dup)(int fd)
{
	return shim_dup(fd);
}

SHIM_EXPORT int WRAP(dup2)(int oldfd, int newfd)
{
	return shim_dup2(oldfd, newfd);
}

SHIM_EXPORT int WRAP(dup3)(int oldfd, int newfd, int flags)
{
	return shim_dup3(oldfd, newfd, flags);
}

SHIM_EXPORT int WRAP(fcntl)(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	/* As glibc: whatever the command, one pointer-sized argument is passed on. */
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(fd, cmd, arg);
}

SHIM_EXPORT int WRAP(fcntl64)(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(fd, cmd, arg);
}

SHIM_EXPORT int WRAP(fstat)(int fd, struct stat *st)
{
	return shim_fstatat(fd, "", st, AT_EMPTY_PATH);
}

SHIM_EXPORT int WRAP(fstat64)(int fd, struct stat64 *st)
{
	return shim_fstatat(fd, "", (struct stat *)st, AT_EMPTY_PATH);
}

SHIM_EXPORT int WRAP(stat)(const char *path, struct stat *st)
{
	return shim_fstatat(AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int WRAP(stat64)(const char *path, struct stat64 *st)
{
	return shim_fstatat(AT_FDCWD, path, (struct stat *)st, 0);
}

SHIM_EXPORT int WRAP(lstat)(const char *path, struct stat *st)
{
	return shim_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

SHIM_EXPORT int WRAP(lstat64)(const char *path, struct stat64 *st)
{
	return shim_fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

SHIM_EXPORT int WRAP(fstatat)(int dirfd, const char *path, struct stat *st, int flags)
{
	return shim_fstatat(dirfd, path, st, flags);
}

SHIM_EXPORT int WRAP(fstatat64)(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return shim_fstatat(dirfd, path, (struct stat *)st, flags);
}

SHIM_EXPORT int WRAP(statx)(int dirfd, const char *path, int flags, unsigned int mask,
			    struct statx *stx)
{
	return shim_statx(dirfd, path, flags, mask, stx);
}

SHIM_EXPORT int WRAP(statfs)(const char *path, struct statfs *buf)
{
	return shim_statfs(path, buf);
}

SHIM_EXPORT int WRAP(statfs64)(const char *path, struct statfs64 *buf)
{
	return shim_statfs(path, (struct statfs *)buf);
}

SHIM_EXPORT int WRAP(fstatfs)(int fd, struct statfs *buf)
{
	return shim_fstatfs(fd, buf);
}

SHIM_EXPORT int WRAP(fstatfs64)(int fd, struct statfs64 *buf)
{
	return shim_fstatfs(fd, (struct statfs *)buf);
}

SHIM_EXPORT int WRAP(mkdir)(const char *path, mode_t mode)
{
	return shim_mkdirat(AT_FDCWD, path, mode);
}

SHIM_EXPORT int WRAP(mkdirat)(int dirfd, const char *path, mode_t mode)
{
	return shim_mkdirat(dirfd, path, mode);
}

SHIM_EXPORT int WRAP(rmdir)(const char *path)
{
	return shim_unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}

SHIM_EXPORT int WRAP(unlink)(const char *path)
{
	return shim_unlinkat(AT_FDCWD, path, 0);
}

SHIM_EXPORT int WRAP(unlinkat)(int dirfd, const char *path, int flags)
{
	return shim_unlinkat(dirfd, path, flags);
}

SHIM_EXPORT ssize_t WRAP(readlink)(const char *path, char *buf, size_t size)
{
	return shim_readlinkat(AT_FDCWD, path, buf, size);
}

SHIM_EXPORT ssize_t WRAP(readlinkat)(int dirfd, const char *path, char *buf, size_t size)
{
	return shim_readlinkat(dirfd, path, buf, size);
}

SHIM_EXPORT ssize_t WRAP(__readlink_chk)(const char *path, char *buf, size_t size, size_t bufsize)
{
	if (size > bufsize)
		__chk_fail();
	return shim_readlinkat(AT_FDCWD, path, buf, size);
}

SHIM_EXPORT ssize_t WRAP(__readlinkat_chk)(int dirfd, const char *path, char *buf, size_t size,
					   size_t bufsize)
{
	if (size > bufsize)
		__chk_fail();
	return shim_readlinkat(dirfd, path, buf, size);
}

SHIM_EXPORT DIR *WRAP(opendir)(const char *path)
{
	return shim_opendir(path);
}

SHIM_EXPORT struct dirent *WRAP(readdir)(DIR *d)
{
	return shim_readdir(d);
}

SHIM_EXPORT struct dirent64 *WRAP(readdir64)(DIR *d)
{
	return shim_readdir64(d);
}

SHIM_EXPORT int WRAP(closedir)(DIR *d)
{
	return shim_closedir(d);
}

SHIM_EXPORT void WRAP(rewinddir)(DIR *d)
{
	shim_rewinddir(d);
}

SHIM_EXPORT long WRAP(telldir)(DIR *d)
{
	return shim_telldir(d);
}

SHIM_EXPORT void WRAP(seekdir)(DIR *d, long loc)
{
	shim_seekdir(d, loc);
}

SHIM_EXPORT int WRAP(dirfd)(DIR *d)
{
	return shim_dirfd(d);
}
