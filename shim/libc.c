// SPDX-License-Identifier: MIT
/*
 * libc.c - the real libc functions behind the shim's wrappers. Both faces of the shim find
 * them with dlsym(RTLD_NEXT): the preload library because its own definitions hide libc's,
 * the --wrap archive because its __real_NAME exists only for the names a program chose to
 * wrap, while the shim forwards every call through a few general functions (open() is
 * openat(AT_FDCWD, ...), stat() is fstatat(), ...). All are looked up at once, on the first
 * wrapped call of the process, since a wrapper may run before any constructor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

static struct shim_libc libc_fns;
static pthread_once_t libc_once = PTHREAD_ONCE_INIT;

static void *libc_sym(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);
	static const char msg[] = "nsbpf-preload: a libc function is missing: ";

	if (!fn) {
		/* Nothing safe to fall back to: a bpf() must never reach the kernel. */
		if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, name, strlen(name)) < 0 ||
		    write(2, "\n", 1) < 0)
			abort();
		abort();
	}
	return fn;
}

static void libc_init(void)
{
	libc_fns.syscall = libc_sym("syscall");
	libc_fns.unshare = libc_sym("unshare");
	libc_fns.setns = libc_sym("setns");
	libc_fns.openat = libc_sym("openat");
	libc_fns.fopen = libc_sym("fopen");
	libc_fns.close = libc_sym("close");
	libc_fns.close_range = libc_sym("close_range");
	libc_fns.mmap = libc_sym("mmap");
	libc_fns.munmap = libc_sym("munmap");
	libc_fns.dup = libc_sym("dup");
	libc_fns.dup2 = libc_sym("dup2");
	libc_fns.dup3 = libc_sym("dup3");
	libc_fns.fcntl = libc_sym("fcntl");
	libc_fns.fstatat = libc_sym("fstatat");
	libc_fns.statx = libc_sym("statx");
	libc_fns.statfs = libc_sym("statfs");
	libc_fns.fstatfs = libc_sym("fstatfs");
	libc_fns.mkdirat = libc_sym("mkdirat");
	libc_fns.unlinkat = libc_sym("unlinkat");
	libc_fns.readlinkat = libc_sym("readlinkat");
	libc_fns.opendir = libc_sym("opendir");
	libc_fns.readdir = libc_sym("readdir");
	libc_fns.readdir64 = libc_sym("readdir64");
	libc_fns.closedir = libc_sym("closedir");
	libc_fns.rewinddir = libc_sym("rewinddir");
	libc_fns.telldir = libc_sym("telldir");
	libc_fns.seekdir = libc_sym("seekdir");
	libc_fns.dirfd = libc_sym("dirfd");
	libc_fns.fork = libc_sym("fork");
	libc_fns.sendmsg = libc_sym("sendmsg");
	libc_fns.recvmsg = libc_sym("recvmsg");
}

const struct shim_libc *shim_libc(void)
{
	pthread_once(&libc_once, libc_init);
	return &libc_fns;
}
