// SPDX-License-Identifier: MIT
/*
 * test_bpf_caller.c - a runtime acting for a caller in another process (nsbpf_set_caller()),
 * played by a fake caller in this one: its memory is a buffer seen at addresses this process
 * does not use, its fd table a small array of our fds at numbers from 100 up, so the attr,
 * every pointer in it and every fd can only reach the runtime through the caller's ops.
 * Then nsbpf_fd_share_all() (the process's fds become sockets whose last close anywhere the
 * runtime learns of) and the nsbpf_copy_*() calls a caller's side answers the runtime with.
 * Each test counts /proc/self/fd before its runtime exists and after it is freed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/bpf.h"
#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

#include "fd_count.h"

/*
 * Where the caller's memory starts in its own address space: high enough that nothing of
 * this process is likely mapped there, below the end of user space (the runtime's
 * access_ok() check applies to a caller's addresses too).
 */
#define CALLER_BASE   0x200000000000ull
#define CALLER_MEM    (64 * 1024)
#define CALLER_FD0    100
#define CALLER_NR_FDS 8

struct fake_caller {
	struct nsbpf_caller caller;
	unsigned char mem[CALLER_MEM];
	size_t used;
	uint64_t hole, hole_len; /* a range of mem that reads and writes fault on */
	int fds[CALLER_NR_FDS];	 /* our copy of caller fd CALLER_FD0 + i; -1: not open */
	bool cloexec[CALLER_NR_FDS];
	const char *cwd;
	int cwd_err;
	unsigned int nr_read, nr_write, nr_read_str, nr_get_fd, nr_put_fd, nr_getcwd;
};

/* Our view of @len bytes at the caller's @addr, or NULL where the caller would fault. */
static void *fc_ptr(struct fake_caller *fc, uint64_t addr, size_t len)
{
	uint64_t off = addr - CALLER_BASE;

	if (addr < CALLER_BASE || off > CALLER_MEM || len > CALLER_MEM - off)
		return NULL;
	if (fc->hole_len && addr < fc->hole + fc->hole_len && addr + len > fc->hole)
		return NULL;
	return fc->mem + off;
}

static int fc_read(void *ctx, void *dst, uint64_t src, size_t len)
{
	struct fake_caller *fc = ctx;
	void *p = fc_ptr(fc, src, len);

	fc->nr_read++;
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

static int fc_write(void *ctx, uint64_t dst, const void *src, size_t len)
{
	struct fake_caller *fc = ctx;
	void *p = fc_ptr(fc, dst, len);

	fc->nr_write++;
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

static long fc_read_str(void *ctx, char *dst, uint64_t src, size_t count)
{
	struct fake_caller *fc = ctx;
	size_t i;

	fc->nr_read_str++;
	for (i = 0; i < count; i++) {
		const char *p = fc_ptr(fc, src + i, 1);

		if (!p)
			return -EFAULT;
		dst[i] = *p;
		if (!*p)
			return (long)i;
	}
	return (long)count;
}

static int fc_get_fd(void *ctx, int fd, bool *cloexec)
{
	struct fake_caller *fc = ctx;
	unsigned int i = (unsigned int)(fd - CALLER_FD0);
	int local;

	fc->nr_get_fd++;
	if (fd < CALLER_FD0 || i >= CALLER_NR_FDS || fc->fds[i] < 0)
		return -EBADF;
	local = fcntl(fc->fds[i], F_DUPFD_CLOEXEC, 0);
	if (local < 0)
		return -errno;
	*cloexec = fc->cloexec[i];
	return local;
}

/* A copy of our @fd at the caller's lowest free number. */
static int fc_install(struct fake_caller *fc, int fd, bool cloexec)
{
	unsigned int i;

	for (i = 0; i < CALLER_NR_FDS && fc->fds[i] >= 0; i++)
		;
	if (i == CALLER_NR_FDS)
		return -EMFILE;
	fc->fds[i] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fc->fds[i] < 0)
		return -errno;
	fc->cloexec[i] = cloexec;
	return CALLER_FD0 + (int)i;
}

static int fc_put_fd(void *ctx, int fd, bool cloexec)
{
	struct fake_caller *fc = ctx;

	fc->nr_put_fd++;
	return fc_install(fc, fd, cloexec);
}

static int fc_getcwd(void *ctx, char *buf, size_t size)
{
	struct fake_caller *fc = ctx;

	fc->nr_getcwd++;
	if (fc->cwd_err)
		return fc->cwd_err;
	if (strlen(fc->cwd) >= size)
		return -ERANGE;
	strcpy(buf, fc->cwd);
	return 0;
}

static const struct nsbpf_caller_ops fc_ops = {
	.read = fc_read,
	.write = fc_write,
	.read_str = fc_read_str,
	.get_fd = fc_get_fd,
	.put_fd = fc_put_fd,
	.getcwd = fc_getcwd,
};

/* Too big for the stack; one caller per test. */
static struct fake_caller fc;

static void fc_init(void)
{
	unsigned int i;

	memset(&fc, 0, sizeof(fc));
	fc.caller.ops = &fc_ops;
	fc.caller.ctx = &fc;
	fc.cwd = "/";
	for (i = 0; i < CALLER_NR_FDS; i++)
		fc.fds[i] = -1;
}

/* The caller's close(2) of @fd: our copy goes. */
static void fc_close(int fd)
{
	unsigned int i = (unsigned int)(fd - CALLER_FD0);

	assert_true(i < CALLER_NR_FDS && fc.fds[i] >= 0);
	close(fc.fds[i]);
	fc.fds[i] = -1;
}

static void fc_close_all(void)
{
	unsigned int i;

	for (i = 0; i < CALLER_NR_FDS; i++) {
		if (fc.fds[i] >= 0)
			fc_close(CALLER_FD0 + (int)i);
	}
}

/* Our copy of the caller's @fd, still the caller's. */
static int fc_local(int fd)
{
	unsigned int i = (unsigned int)(fd - CALLER_FD0);

	assert_true(i < CALLER_NR_FDS && fc.fds[i] >= 0);
	return fc.fds[i];
}

/* @len bytes of the caller's memory, 8-aligned: its address there. */
static uint64_t fc_alloc(size_t len)
{
	uint64_t addr = CALLER_BASE + fc.used;

	fc.used += (len + 7) & ~(size_t)7;
	assert_true(fc.used <= CALLER_MEM);
	return addr;
}

static void *fc_mem(uint64_t addr)
{
	return fc.mem + (addr - CALLER_BASE);
}

static uint64_t fc_put(const void *data, size_t len)
{
	uint64_t addr = fc_alloc(len);

	memcpy(fc_mem(addr), data, len);
	return addr;
}

/* A page of the caller's memory it has not mapped, after some it has. */
static uint64_t fc_hole(void)
{
	fc_alloc(64);
	fc.hole = fc_alloc(4096);
	fc.hole_len = 4096;
	return fc.hole;
}

/* bpf(2) with the attr at the caller's @uattr, acting for the caller. */
static long caller_bpf_at(struct nsbpf_runtime *rt, int cmd, uint64_t uattr)
{
	long ret;

	nsbpf_set_caller(&fc.caller);
	ret = nsbpf_sys_bpf(rt, cmd, (void *)(uintptr_t)uattr, sizeof(union bpf_attr));
	nsbpf_set_caller(NULL);
	return ret;
}

static long caller_bpf(struct nsbpf_runtime *rt, int cmd, const union bpf_attr *attr)
{
	return caller_bpf_at(rt, cmd, fc_put(attr, sizeof(*attr)));
}

/* bpf(2) for this process. */
static long sys_bpf(struct nsbpf_runtime *rt, int cmd, union bpf_attr *attr)
{
	/* cmocka swaps its own SIGSEGV handler in around each test: ours goes back on top. */
	bpf_uaccess_install();
	return nsbpf_sys_bpf(rt, cmd, attr, sizeof(*attr));
}

static void map_attr(union bpf_attr *attr, uint32_t type)
{
	memset(attr, 0, sizeof(*attr));
	attr->map_type = type;
	attr->key_size = 4;
	attr->value_size = 8;
	attr->max_entries = 4;
}

static int caller_map_create(struct nsbpf_runtime *rt)
{
	union bpf_attr attr;

	map_attr(&attr, BPF_MAP_TYPE_HASH);
	return (int)caller_bpf(rt, BPF_MAP_CREATE, &attr);
}

static int local_map_create(struct nsbpf_runtime *rt)
{
	union bpf_attr attr;

	map_attr(&attr, BPF_MAP_TYPE_HASH);
	return (int)sys_bpf(rt, BPF_MAP_CREATE, &attr);
}

/* A map command with key and value at the caller's addresses. */
static long caller_elem(struct nsbpf_runtime *rt, int cmd, int fd, uint64_t key, uint64_t value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)fd;
	attr.key = key;
	attr.value = value;
	return caller_bpf(rt, cmd, &attr);
}

static long local_elem(struct nsbpf_runtime *rt, int cmd, int fd, const void *key, void *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)value;
	return sys_bpf(rt, cmd, &attr);
}

/* Stores key -> value in the caller's map @fd, through the caller's memory. */
static void caller_update(struct nsbpf_runtime *rt, int fd, uint32_t key, uint64_t value)
{
	uint64_t ukey = fc_put(&key, sizeof(key)), uvalue = fc_put(&value, sizeof(value));

	assert_int_equal(caller_elem(rt, BPF_MAP_UPDATE_ELEM, fd, ukey, uvalue), 0);
}

/* The value of @key in the caller's map @fd, as the caller reads it back. */
static uint64_t caller_lookup(struct nsbpf_runtime *rt, int fd, uint32_t key)
{
	uint64_t ukey = fc_put(&key, sizeof(key)), uvalue = fc_alloc(8), value;

	assert_int_equal(caller_elem(rt, BPF_MAP_LOOKUP_ELEM, fd, ukey, uvalue), 0);
	memcpy(&value, fc_mem(uvalue), sizeof(value));
	return value;
}

static struct bpf_map_info caller_map_info(struct nsbpf_runtime *rt, int fd)
{
	uint64_t uinfo = fc_alloc(sizeof(struct bpf_map_info));
	struct bpf_map_info info;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = uinfo;
	assert_int_equal(caller_bpf(rt, BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	memcpy(&info, fc_mem(uinfo), sizeof(info));
	return info;
}

/* MAP_GET_FD_BY_ID for this process: the fd is closed again at once. 0 or the errno. */
static long map_id_alive(struct nsbpf_runtime *rt, uint32_t id)
{
	union bpf_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_id = id;
	fd = sys_bpf(rt, BPF_MAP_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return fd;
	assert_int_equal(nsbpf_fd_close(rt, (int)fd), 0);
	return 0;
}

static bool polls_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static int count_fds(void)
{
	int n = count_open_fds();

	assert_true(n >= 0);
	return n;
}

static struct nsbpf_runtime *runtime_new(void)
{
	struct nsbpf_runtime *rt;

	fc_init();
	assert_int_equal(nsbpf_runtime_new(NULL, &rt), 0);
	return rt;
}

/* Frees @rt and what the caller still holds: the process has the fds it started with. */
static void runtime_free(struct nsbpf_runtime *rt, int fds_before)
{
	fc_close_all();
	nsbpf_runtime_free(rt);
	assert_int_equal(count_fds(), fds_before);
}

/* ---- A caller elsewhere ---------------------------------------------------------------- */

static void test_caller_map(void **state)
{
	int fds = count_fds(), fd, fd2;
	struct nsbpf_runtime *rt;
	struct bpf_map_info info;
	unsigned int reads, writes, gets;
	struct stat st;

	(void)state;
	rt = runtime_new();
	fd = caller_map_create(rt);
	/* the caller's number, a socket of its own (map fds are always O_CLOEXEC) */
	assert_int_equal(fd, CALLER_FD0);
	assert_true(fc.nr_read >= 1);
	assert_int_equal(fc.nr_put_fd, 1);
	assert_true(fc.cloexec[0]);
	assert_int_equal(fstat(fc_local(fd), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* nothing was installed in this process's table */
	assert_false(nsbpf_fd_owned(rt, fd));

	reads = fc.nr_read;
	gets = fc.nr_get_fd;
	caller_update(rt, fd, 3, 0x1122334455667788ull);
	/* attr, key and value: all read from the caller; the fd looked up in its table */
	assert_true(fc.nr_read >= reads + 3);
	assert_true(fc.nr_get_fd > gets);
	writes = fc.nr_write;
	assert_int_equal(caller_lookup(rt, fd, 3), 0x1122334455667788ull);
	assert_true(fc.nr_write > writes);
	assert_int_equal(
		caller_elem(rt, BPF_MAP_LOOKUP_ELEM, fd, fc_put(&(uint32_t){ 4 }, 4), fc_alloc(8)),
		-ENOENT);

	info = caller_map_info(rt, fd);
	assert_int_equal(info.type, BPF_MAP_TYPE_HASH);
	assert_int_equal(info.value_size, 8);
	assert_true(info.id > 0);

	/* a second map is the caller's next number, a different object */
	fd2 = caller_map_create(rt);
	assert_int_equal(fd2, CALLER_FD0 + 1);
	assert_int_not_equal(caller_map_info(rt, fd2).id, info.id);
	caller_update(rt, fd2, 3, 9);
	assert_int_equal(caller_lookup(rt, fd, 3), 0x1122334455667788ull);
	assert_int_equal(caller_lookup(rt, fd2, 3), 9);

	runtime_free(rt, fds);
}

struct thread_arg {
	struct nsbpf_runtime *rt;
	int fd;
};

static void *local_create_thread(void *p)
{
	struct thread_arg *arg = p;

	arg->fd = local_map_create(arg->rt);
	return NULL;
}

/* The caller is the calling thread's: another thread meanwhile acts for this process. */
static void test_caller_per_thread(void **state)
{
	struct thread_arg arg = { .fd = -1 };
	int fds = count_fds();
	pthread_t thread;

	(void)state;
	arg.rt = runtime_new();
	nsbpf_set_caller(&fc.caller);
	assert_int_equal(pthread_create(&thread, NULL, local_create_thread, &arg), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	nsbpf_set_caller(NULL);
	assert_true(arg.fd >= 0 && arg.fd < CALLER_FD0);
	assert_true(nsbpf_fd_owned(arg.rt, arg.fd));
	assert_int_equal(fc.nr_read + fc.nr_put_fd, 0);
	assert_int_equal(nsbpf_fd_close(arg.rt, arg.fd), 0);
	runtime_free(arg.rt, fds);
}

/* A pointer the caller has not mapped is -EFAULT, whichever part of the command holds it. */
static void test_caller_efault(void **state)
{
	uint32_t key = 1;
	uint64_t hole, ukey, value = 5;
	int fds = count_fds(), fd;
	struct nsbpf_runtime *rt;
	union bpf_attr attr;
	unsigned int reads;

	(void)state;
	rt = runtime_new();
	hole = fc_hole();

	/* the attr itself */
	reads = fc.nr_read;
	assert_int_equal(caller_bpf_at(rt, BPF_MAP_CREATE, hole), -EFAULT);
	assert_int_equal(fc.nr_read, reads + 1);
	assert_int_equal(fc.nr_put_fd, 0);
	/* an attr running into the hole */
	map_attr(&attr, BPF_MAP_TYPE_HASH);
	memcpy(fc_mem(hole - 16), &attr, 16);
	assert_int_equal(caller_bpf_at(rt, BPF_MAP_CREATE, hole - 16), -EFAULT);
	/* beyond user space: refused before the caller is asked */
	reads = fc.nr_read;
	assert_int_equal(caller_bpf_at(rt, BPF_MAP_CREATE, 0xffff888000000000ull), -EFAULT);
	assert_int_equal(fc.nr_read, reads);
	assert_int_equal(fc.nr_put_fd, 0);

	fd = caller_map_create(rt);
	assert_int_equal(fd, CALLER_FD0);
	ukey = fc_put(&key, sizeof(key));
	/* key, value to read, value to write */
	assert_int_equal(caller_elem(rt, BPF_MAP_UPDATE_ELEM, fd, hole, fc_put(&value, 8)),
			 -EFAULT);
	assert_int_equal(caller_elem(rt, BPF_MAP_UPDATE_ELEM, fd, ukey, hole), -EFAULT);
	caller_update(rt, fd, key, value);
	assert_int_equal(caller_elem(rt, BPF_MAP_LOOKUP_ELEM, fd, ukey, hole + 8), -EFAULT);
	/* the same addresses in this process's memory are never looked at */
	assert_int_equal(
		caller_elem(rt, BPF_MAP_LOOKUP_ELEM, fd, ukey, (uint64_t)(uintptr_t)&value),
		-EFAULT);

	/* a path */
	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)fd;
	attr.pathname = hole;
	assert_int_equal(caller_bpf(rt, BPF_OBJ_PIN, &attr), -EFAULT);
	assert_true(fc.nr_read_str >= 1);

	assert_int_equal(caller_lookup(rt, fd, key), 5);
	runtime_free(rt, fds);
}

/* Fd numbers are the caller's: one it has not open, or open on something else, is no map. */
static void test_caller_bad_fd(void **state)
{
	int fds = count_fds(), fd, local, pipefd[2], pfd;
	struct nsbpf_runtime *rt;
	uint64_t ukey;
	unsigned int gets;

	(void)state;
	rt = runtime_new();
	ukey = fc_put(&(uint32_t){ 0 }, 4);

	/* not open in the caller */
	gets = fc.nr_get_fd;
	assert_int_equal(caller_elem(rt, BPF_MAP_LOOKUP_ELEM, CALLER_FD0 + 5, ukey, fc_alloc(8)),
			 -EBADF);
	assert_true(fc.nr_get_fd > gets);
	assert_int_equal(caller_elem(rt, BPF_MAP_LOOKUP_ELEM, -1, ukey, fc_alloc(8)), -EBADF);

	/* a map fd of this process is nothing at that number in the caller */
	local = local_map_create(rt);
	assert_true(local >= 0 && local < CALLER_FD0);
	assert_int_equal(caller_elem(rt, BPF_MAP_LOOKUP_ELEM, local, ukey, fc_alloc(8)), -EBADF);

	/* open, but a pipe */
	assert_int_equal(pipe(pipefd), 0);
	pfd = fc_install(&fc, pipefd[0], false);
	assert_int_equal(pfd, CALLER_FD0);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(caller_elem(rt, BPF_MAP_LOOKUP_ELEM, pfd, ukey, fc_alloc(8)), -EINVAL);
	assert_int_equal(
		caller_elem(rt, BPF_MAP_UPDATE_ELEM, pfd, ukey, fc_put(&(uint64_t){ 1 }, 8)),
		-EINVAL);

	/* the real map next to them still answers */
	fd = caller_map_create(rt);
	assert_int_equal(fd, CALLER_FD0 + 1);
	caller_update(rt, fd, 0, 42);
	assert_int_equal(caller_lookup(rt, fd, 0), 42);
	/* every copy get_fd handed the runtime was closed again */
	fc_close(pfd);
	assert_int_equal(nsbpf_fd_close(rt, local), 0);
	runtime_free(rt, fds);
}

/* The map lives while any copy of the caller's socket does; the last close releases it. */
static void test_caller_last_close(void **state)
{
	int fds = count_fds(), fd, local, wait_fd, copy;
	struct nsbpf_runtime *rt;
	uint32_t id;

	(void)state;
	rt = runtime_new();
	assert_int_equal(nsbpf_fd_shared_wait_fd(rt), -ENOENT);
	/* the process's own fds are not shared files */
	local = local_map_create(rt);
	assert_true(local >= 0);
	assert_int_equal(nsbpf_fd_shared_wait_fd(rt), -ENOENT);
	assert_int_equal(nsbpf_fd_shared_reap(rt), 0);

	fd = caller_map_create(rt);
	assert_int_equal(fd, CALLER_FD0);
	wait_fd = nsbpf_fd_shared_wait_fd(rt);
	assert_true(wait_fd >= 0);
	assert_true(nsbpf_fd_internal(rt, wait_fd));
	assert_false(nsbpf_fd_internal(rt, fc_local(fd)));
	assert_false(polls_readable(wait_fd));
	assert_int_equal(nsbpf_fd_shared_reap(rt), 1);
	id = caller_map_info(rt, fd).id;
	assert_int_equal(map_id_alive(rt, id), 0);

	/* the caller forks: the child's copy keeps the file once the parent's is closed */
	copy = fcntl(fc_local(fd), F_DUPFD_CLOEXEC, 0);
	assert_true(copy >= 0);
	fc_close(fd);
	assert_false(polls_readable(wait_fd));
	assert_int_equal(nsbpf_fd_shared_reap(rt), 1);
	assert_int_equal(map_id_alive(rt, id), 0);

	close(copy);
	assert_true(polls_readable(wait_fd));
	assert_int_equal(nsbpf_fd_shared_reap(rt), 0);
	assert_int_equal(map_id_alive(rt, id), -ENOENT);
	assert_false(polls_readable(wait_fd));
	/* the process's own map was never the caller's to release */
	assert_int_equal(
		local_elem(rt, BPF_MAP_UPDATE_ELEM, local, &(uint32_t){ 1 }, &(uint64_t){ 2 }), 0);
	assert_int_equal(nsbpf_fd_close(rt, local), 0);
	runtime_free(rt, fds);
}

/* Relative bpffs paths are the caller's, from its working directory. */
static void test_caller_pin_relative(void **state)
{
	int fds = count_fds(), fd, got;
	struct nsbpf_runtime *rt;
	union bpf_attr attr;
	struct stat st;
	char cwd[4096];

	(void)state;
	rt = runtime_new();
	/* ours is not bpffs: only the caller's makes the path land there */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_true(strncmp(cwd, "/sys/fs/bpf", 11) != 0);
	fd = caller_map_create(rt);
	assert_int_equal(fd, CALLER_FD0);
	caller_update(rt, fd, 1, 77);

	fc.cwd = "/sys/fs/bpf";
	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)fd;
	attr.pathname = fc_put("rel_pin", 8);
	assert_int_equal(caller_bpf(rt, BPF_OBJ_PIN, &attr), 0);
	assert_true(fc.nr_getcwd >= 1);
	assert_true(fc.nr_read_str >= 1);
	assert_int_equal(nsbpf_bpffs_stat(rt, "/sys/fs/bpf/rel_pin", &st), 0);
	assert_true(S_ISREG(st.st_mode));

	assert_int_equal(nsbpf_bpffs_mkdir(rt, "/sys/fs/bpf/dir", 0700), 0);
	fc.cwd = "/sys/fs/bpf/dir";
	attr.pathname = fc_put("sub_pin", 8);
	assert_int_equal(caller_bpf(rt, BPF_OBJ_PIN, &attr), 0);
	assert_int_equal(nsbpf_bpffs_stat(rt, "/sys/fs/bpf/dir/sub_pin", &st), 0);
	assert_int_equal(nsbpf_bpffs_stat(rt, "/sys/fs/bpf/sub_pin", &st), -ENOENT);

	/* OBJ_GET of "../rel_pin" from there: the same map, at the caller's next number */
	memset(&attr, 0, sizeof(attr));
	attr.pathname = fc_put("../rel_pin", 11);
	got = (int)caller_bpf(rt, BPF_OBJ_GET, &attr);
	assert_int_equal(got, CALLER_FD0 + 1);
	assert_int_equal(caller_lookup(rt, got, 1), 77);
	assert_int_equal(caller_map_info(rt, got).id, caller_map_info(rt, fd).id);

	/* a caller whose working directory is gone */
	fc.cwd_err = -ENOENT;
	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)fd;
	attr.pathname = fc_put("other_pin", 10);
	assert_int_equal(caller_bpf(rt, BPF_OBJ_PIN, &attr), -ENOENT);
	/* absolute paths need no working directory */
	attr.pathname = fc_put("/sys/fs/bpf/abs_pin", 20);
	assert_int_equal(caller_bpf(rt, BPF_OBJ_PIN, &attr), 0);
	assert_int_equal(nsbpf_bpffs_stat(rt, "/sys/fs/bpf/abs_pin", &st), 0);
	runtime_free(rt, fds);
}

/* ---- Sharing a process's fds --------------------------------------------------------- */

static void test_share_all(void **state)
{
	int fds = count_fds(), f, f2, other, fd, wait_fd;
	struct stat st, st2, st_other;
	uint32_t id, key = 2;
	struct nsbpf_runtime *rt;
	uint64_t value = 123;
	int *peers = NULL;
	size_t nr = 0;

	(void)state;
	rt = runtime_new();
	f = local_map_create(rt);
	assert_true(f >= 0);
	f2 = fcntl(f, F_DUPFD_CLOEXEC, 0);
	assert_true(f2 >= 0);
	assert_int_equal(nsbpf_fd_dup(rt, f, f2, true), 0);
	other = local_map_create(rt);
	assert_true(other >= 0);
	assert_int_equal(local_elem(rt, BPF_MAP_UPDATE_ELEM, f, &key, &value), 0);

	assert_int_equal(nsbpf_fd_share_all(rt, &peers, &nr), 0);
	/* one socket per file: f and its dup share one, the other map has its own */
	assert_int_equal(nr, 2);
	assert_non_null(peers);
	assert_int_equal(fstat(f, &st), 0);
	assert_int_equal(fstat(f2, &st2), 0);
	assert_int_equal(fstat(other, &st_other), 0);
	assert_true(S_ISSOCK(st.st_mode) && S_ISSOCK(st2.st_mode) && S_ISSOCK(st_other.st_mode));
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_not_equal(st.st_ino, st_other.st_ino);
	assert_true(nsbpf_fd_internal(rt, peers[0]));
	assert_true(nsbpf_fd_internal(rt, peers[1]));
	assert_false(nsbpf_fd_internal(rt, f));
	wait_fd = nsbpf_fd_shared_wait_fd(rt);
	assert_true(wait_fd >= 0);
	assert_int_equal(nsbpf_fd_shared_reap(rt), 2);
	/* the numbers still name the files here, for a process whose host did not start */
	assert_true(nsbpf_fd_owned(rt, f) && nsbpf_fd_owned(rt, f2));
	value = 0;
	assert_int_equal(local_elem(rt, BPF_MAP_LOOKUP_ELEM, f2, &key, &value), 0);
	assert_int_equal(value, 123);

	/* what a host process does: the numbers were the forking process's */
	nsbpf_fd_forget(rt, f);
	nsbpf_fd_forget(rt, f2);
	nsbpf_fd_forget(rt, other);
	/* the socket is the map, for a caller holding a copy of it */
	fd = fc_install(&fc, f, true);
	assert_int_equal(fd, CALLER_FD0);
	assert_int_equal(caller_lookup(rt, fd, key), 123);
	caller_update(rt, fd, key, 456);
	assert_int_equal(caller_lookup(rt, fd, key), 456);
	id = caller_map_info(rt, fd).id;
	assert_int_equal(map_id_alive(rt, id), 0);

	/* every copy but one closed: alive */
	close(f);
	close(f2);
	close(other);
	assert_int_equal(nsbpf_fd_shared_reap(rt), 1);
	assert_int_equal(map_id_alive(rt, id), 0);
	/* the last */
	fc_close(fd);
	assert_true(polls_readable(wait_fd));
	assert_int_equal(nsbpf_fd_shared_reap(rt), 0);
	assert_int_equal(map_id_alive(rt, id), -ENOENT);
	/* the runtime closed its peers with their files */
	assert_int_equal(fcntl(peers[0], F_GETFD), -1);
	assert_int_equal(fcntl(peers[1], F_GETFD), -1);
	free(peers);
	runtime_free(rt, fds);
}

/* A runtime with no fds shares nothing. */
static void test_share_all_empty(void **state)
{
	int fds = count_fds(), f, *peers = (int *)1;
	struct nsbpf_runtime *rt;
	size_t nr = 99;

	(void)state;
	rt = runtime_new();
	assert_int_equal(nsbpf_fd_share_all(rt, &peers, &nr), 0);
	assert_int_equal(nr, 0);
	free(peers);
	f = local_map_create(rt);
	assert_int_equal(nsbpf_fd_close(rt, f), 0);
	peers = (int *)1;
	nr = 99;
	assert_int_equal(nsbpf_fd_share_all(rt, &peers, &nr), 0);
	assert_int_equal(nr, 0);
	free(peers);
	runtime_free(rt, fds);
}

/* ---- The caller's side of the copies ---------------------------------------------------- */

static void test_copy_user(void **state)
{
	char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *end, buf[16];
	int fds = count_fds(), i;
	struct nsbpf_runtime *rt;

	(void)state;
	assert_true(page != MAP_FAILED);
	assert_int_equal(mprotect(page + 4096, 4096, PROT_NONE), 0);
	end = page + 4096;
	rt = runtime_new();
	bpf_uaccess_install();
	/* They copy this process's memory even while the thread acts for a caller. */
	for (i = 0; i < 2; i++) {
		nsbpf_set_caller(i ? &fc.caller : NULL);

		memcpy(end - 8, "abcdefgh", 8);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(nsbpf_copy_from_user(buf, end - 8, 8), 0);
		assert_memory_equal(buf, "abcdefgh", 8);
		assert_int_equal(nsbpf_copy_to_user(end - 4, "WXYZ", 4), 0);
		assert_memory_equal(end - 8, "abcdWXYZ", 8);
		assert_int_equal(nsbpf_copy_from_user(buf, end, 1), -EFAULT);
		assert_int_equal(nsbpf_copy_from_user(buf, end - 4, 8), -EFAULT);
		assert_int_equal(nsbpf_copy_to_user(end, "x", 1), -EFAULT);
		assert_int_equal(nsbpf_copy_to_user(end - 2, "xyzw", 4), -EFAULT);
		assert_int_equal(nsbpf_copy_from_user(buf, NULL, 4), -EFAULT);

		memcpy(end - 4, "abc", 4);
		assert_int_equal(nsbpf_strncpy_from_user(buf, end - 4, sizeof(buf)), 3);
		assert_string_equal(buf, "abc");
		/* @count bytes without a NUL: all of them, no further read */
		assert_int_equal(nsbpf_strncpy_from_user(buf, end - 4, 2), 2);
		memcpy(end - 3, "xyz", 3);
		assert_int_equal(nsbpf_strncpy_from_user(buf, end - 3, 3), 3);
		assert_int_equal(nsbpf_strncpy_from_user(buf, end - 3, sizeof(buf)), -EFAULT);
		assert_int_equal(nsbpf_strncpy_from_user(buf, end, sizeof(buf)), -EFAULT);

		nsbpf_set_caller(NULL);
	}
	assert_int_equal(fc.nr_read + fc.nr_write + fc.nr_read_str, 0);

	/* and the thread's caller is still set after them */
	nsbpf_set_caller(&fc.caller);
	assert_int_equal(nsbpf_copy_from_user(buf, end - 8, 8), 0);
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_CREATE, (void *)(uintptr_t)fc_hole(),
				       sizeof(union bpf_attr)),
			 -EFAULT);
	nsbpf_set_caller(NULL);
	assert_int_equal(fc.nr_read, 1);

	munmap(page, 8192);
	runtime_free(rt, fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caller_map),
		cmocka_unit_test(test_caller_per_thread),
		cmocka_unit_test(test_caller_efault),
		cmocka_unit_test(test_caller_bad_fd),
		cmocka_unit_test(test_caller_last_close),
		cmocka_unit_test(test_caller_pin_relative),
		cmocka_unit_test(test_share_all),
		cmocka_unit_test(test_share_all_empty),
		cmocka_unit_test(test_copy_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
