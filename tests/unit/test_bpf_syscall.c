// SPDX-License-Identifier: MIT
/*
 * test_bpf_syscall.c - the bpf() dispatcher driven with raw union bpf_attr, as a program
 * calling the system call would: attr size rules, CHECK_ATTR, bad pointers, maps end to end,
 * ids, info_len rules, fds (close, dup, fdinfo, readlink), pinning, statistics fds and the
 * generic link layer with a link type of its own. Expected errnos are Linux 6.18's, measured
 * with the same attrs on the live kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bpf/bpf.h"
#include "bpf/info.h"
#include "bpf/link.h"
#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

static struct nsbpf_runtime *rt;

static int setup(void **state)
{
	(void)state;
	return nsbpf_runtime_new(NULL, &rt);
}

static int teardown(void **state)
{
	(void)state;
	nsbpf_runtime_free(rt);
	rt = NULL;
	return 0;
}

/*
 * cmocka swaps its own SIGSEGV handler in around every test and fixture: ours goes back on
 * top before each command (it chains to cmocka's for real crashes).
 */
static long sys_bpf(int cmd, union bpf_attr *attr)
{
	bpf_uaccess_install();
	return nsbpf_sys_bpf(rt, cmd, attr, sizeof(*attr));
}

static int map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max,
		      uint32_t flags)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = key_size;
	attr.value_size = value_size;
	attr.max_entries = max;
	attr.map_flags = flags;
	return (int)sys_bpf(BPF_MAP_CREATE, &attr);
}

static long map_elem(int cmd, int fd, const void *key, void *value, uint64_t flags)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)value;
	attr.flags = flags;
	return sys_bpf(cmd, &attr);
}

static long next_id(int cmd, uint32_t start, uint32_t *next)
{
	union bpf_attr attr;
	long err;

	memset(&attr, 0, sizeof(attr));
	attr.start_id = start;
	err = sys_bpf(cmd, &attr);
	*next = attr.next_id;
	return err;
}

static uint32_t map_id_of(int fd)
{
	struct bpf_map_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	return info.id;
}

/*
 * A page that faults: mapped without access, or unmapped (PROT_NONE false; only while
 * nothing allocates: the address may be mapped again by the next mmap).
 */
static char *bad_page(bool prot_none)
{
	char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	if (!prot_none)
		munmap(p, 4096);
	return p;
}

/* ---- uaccess ---------------------------------------------------------------------------- */

static void test_uaccess_faults(void **state)
{
	char buf[64], *unmapped = bad_page(false), *none = bad_page(true);
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i;

	(void)state;
	bpf_uaccess_install();
	assert_int_equal(copy_from_user(buf, NULL, 8), -EFAULT);
	assert_int_equal(copy_to_user(NULL, buf, 8), -EFAULT);
	assert_int_equal(copy_from_user(buf, NULL, 0), 0);
	assert_int_equal(copy_from_user(buf, unmapped, 8), -EFAULT);
	assert_int_equal(copy_to_user(unmapped, buf, 8), -EFAULT);
	assert_int_equal(copy_from_user(buf, none, 8), -EFAULT);
	assert_int_equal(copy_to_user(none, buf, 8), -EFAULT);
	/* kernel addresses and wrapping ranges never reach a copy */
	assert_int_equal(copy_from_user(buf, (void *)0xffff888000000000ull, 8), -EFAULT);
	assert_int_equal(copy_from_user(buf, (void *)(uintptr_t)-4, 8), -EFAULT);

	/* a buffer that runs into an unmapped page */
	assert_true(two != MAP_FAILED);
	munmap(two + 4096, 4096);
	memset(two + 4096 - 16, 'x', 16);
	assert_int_equal(copy_from_user(buf, two + 4096 - 16, 32), -EFAULT);
	assert_int_equal(copy_from_user(buf, two + 4096 - 16, 16), 0);
	assert_int_equal(buf[15], 'x');
	assert_int_equal(copy_to_user(two + 4096 - 8, buf, 16), -EFAULT);

	/* the handler stays armed fault after fault */
	for (i = 0; i < 10000; i++)
		assert_int_equal(copy_from_user(buf, unmapped + (i % 64), 8), -EFAULT);
	assert_int_equal(copy_from_user(buf, two, 8), 0);

	assert_int_equal(strncpy_from_user(buf, two + 4096 - 4, sizeof(buf)), -EFAULT);
	memcpy(two, "abc", 4);
	assert_int_equal(strncpy_from_user(buf, two, sizeof(buf)), 3);
	munmap(two, 4096);
	munmap(none, 4096);
}

static void exit_42(int sig)
{
	(void)sig;
	_exit(42);
}

/* Crashes in a child with @prev as the handler below ours; returns the wait status. */
static int crash_in_child(void (*prev)(int))
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* not NULL: UBSan would trap a NULL store before it faults */
		volatile int *p = (volatile int *)bad_page(true);
		char buf[8];

		signal(SIGSEGV, prev);
		bpf_uaccess_install();
		if (copy_from_user(buf, NULL, 8) != -EFAULT)
			_exit(1);
		*p = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* A fault outside any copy goes where it would have gone without us. */
static void test_uaccess_real_segv(void **state)
{
	int status;

	(void)state;
	status = crash_in_child(SIG_DFL);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	status = crash_in_child(exit_42);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
}

/* ---- attr rules -------------------------------------------------------------------------- */

static void test_attr_size_rules(void **state)
{
	unsigned char big[sizeof(union bpf_attr) + 64];
	union bpf_attr *attr = (union bpf_attr *)big;
	char *unmapped = bad_page(true);

	(void)state;
	bpf_uaccess_install();
	memset(big, 0, sizeof(big));
	/* a larger attr with a zero tail is fine (empty id space: -ENOENT) */
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, big, sizeof(big)), -ENOENT);
	big[sizeof(union bpf_attr) + 3] = 1;
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, big, sizeof(big)), -E2BIG);
	big[sizeof(union bpf_attr) + 3] = 0;
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, big, 4097), -E2BIG);
	/* bad attr pointers */
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, (void *)8, sizeof(*attr)), -EFAULT);
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, unmapped, 16), -EFAULT);
	/* an unknown command is decided after the copy */
	assert_int_equal(nsbpf_sys_bpf(rt, 77, attr, sizeof(*attr)), -EINVAL);
	assert_int_equal(nsbpf_sys_bpf(rt, -1, attr, sizeof(*attr)), -EINVAL);
	assert_int_equal(nsbpf_sys_bpf(rt, 77, unmapped, 16), -EFAULT);
	/* a smaller attr is zero-extended */
	attr->start_id = 0;
	assert_int_equal(nsbpf_sys_bpf(rt, BPF_MAP_GET_NEXT_ID, attr, 4), -ENOENT);
}

static void test_check_attr(void **state)
{
	union bpf_attr attr;

	(void)state;
	memset(&attr, 0, sizeof(attr));
	attr.open_flags = 1; /* after next_id */
	assert_int_equal(sys_bpf(BPF_MAP_GET_NEXT_ID, &attr), -EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.start_id = INT32_MAX;
	assert_int_equal(sys_bpf(BPF_MAP_GET_NEXT_ID, &attr), -EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = 1;
	attr.open_flags = BPF_F_RDONLY; /* after prog_id */
	assert_int_equal(sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr), -EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.map_id = 1;
	attr.open_flags = BPF_F_RDONLY | BPF_F_WRONLY;
	assert_int_equal(sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr), -EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = 1;
	attr.flags = 1; /* DELETE_ELEM ends at key */
	assert_int_equal(sys_bpf(BPF_MAP_DELETE_ELEM, &attr), -EINVAL);
	memset(&attr, 0, sizeof(attr));
	attr.link_detach.link_fd = 100;
	((unsigned char *)&attr)[4] = 1;
	assert_int_equal(sys_bpf(BPF_LINK_DETACH, &attr), -EINVAL);
	((unsigned char *)&attr)[4] = 0;
	assert_int_equal(sys_bpf(BPF_LINK_DETACH, &attr), -EBADF);
	/* ids that are gone or 0 */
	memset(&attr, 0, sizeof(attr));
	assert_int_equal(sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr), -ENOENT);
	assert_int_equal(sys_bpf(BPF_LINK_GET_FD_BY_ID, &attr), -ENOENT);
	attr.map_id = 12345;
	assert_int_equal(sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr), -ENOENT);
}

/* ---- maps -------------------------------------------------------------------------------- */

static void test_map_elements(void **state)
{
	uint32_t key = 1, next = 0;
	uint64_t value = 42, out = 0;
	char *unmapped = bad_page(true);
	union bpf_attr attr;
	int fd, rdonly;

	(void)state;
	fd = map_create(BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	assert_true(fd >= 0);
	assert_true(nsbpf_fd_owned(rt, fd));

	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, &key, &out, 0), -ENOENT);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_ANY), 0);
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, &key, &out, 0), 0);
	assert_int_equal(out, 42);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, fd, &key, &value, BPF_NOEXIST), -EEXIST);

	/* bad pointers */
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, NULL, &out, 0), -EFAULT);
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, &key, unmapped, 0), -EFAULT);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, fd, &key, unmapped, 0), -EFAULT);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, fd, unmapped, &value, 0), -EFAULT);
	/* flags before the fd; BPF_F_LOCK after the fd */
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, 1000, &key, &out, 2), -EINVAL);
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, 1000, &key, &out, 0), -EBADF);
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, NULL, &out, BPF_F_LOCK), -EINVAL);

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)fd;
	attr.next_key = (uint64_t)(uintptr_t)&next;
	assert_int_equal(sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr), 0);
	assert_int_equal(next, 1);
	attr.key = (uint64_t)(uintptr_t)&next;
	assert_int_equal(sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr), -ENOENT);

	out = 0;
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &key, &out, 0), 0);
	assert_int_equal(out, 42);
	assert_int_equal(map_elem(BPF_MAP_DELETE_ELEM, fd, &key, NULL, 0), -ENOENT);

	/* read-only fds and frozen maps */
	rdonly = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_RDONLY);
	assert_true(rdonly >= 0);
	key = 0;
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, rdonly, &key, &value, 0), -EPERM);
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, rdonly, &key, &out, 0), 0);
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)fd;
	assert_int_equal(sys_bpf(BPF_MAP_FREEZE, &attr), 0);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, fd, &key, &value, 0), -EPERM);
	assert_int_equal(sys_bpf(BPF_MAP_FREEZE, &attr), -EPERM);

	/* names */
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	strcpy(attr.map_name, "ok.name_1");
	nsbpf_fd_close(rt, (int)sys_bpf(BPF_MAP_CREATE, &attr));
	strcpy(attr.map_name, "bad-name");
	assert_int_equal(sys_bpf(BPF_MAP_CREATE, &attr), -EINVAL);

	assert_int_equal(nsbpf_fd_close(rt, fd), 0);
	assert_int_equal(nsbpf_fd_close(rt, rdonly), 0);
	assert_int_equal(nsbpf_fd_close(rt, fd), -EBADF);
}

static void test_map_batch(void **state)
{
	uint32_t keys[4] = { 1, 2, 3, 4 }, out_keys[4], out_batch = 0;
	uint64_t values[4] = { 10, 20, 30, 40 }, out_values[4];
	union bpf_attr attr;
	int fd;

	(void)state;
	fd = map_create(BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	assert_true(fd >= 0);
	memset(&attr, 0, sizeof(attr));
	attr.batch.map_fd = (uint32_t)fd;
	attr.batch.keys = (uint64_t)(uintptr_t)keys;
	attr.batch.values = (uint64_t)(uintptr_t)values;
	attr.batch.count = 4;
	assert_int_equal(sys_bpf(BPF_MAP_UPDATE_BATCH, &attr), 0);
	assert_int_equal(attr.batch.count, 4);

	memset(&attr, 0, sizeof(attr));
	attr.batch.map_fd = (uint32_t)fd;
	attr.batch.out_batch = (uint64_t)(uintptr_t)&out_batch;
	attr.batch.keys = (uint64_t)(uintptr_t)out_keys;
	attr.batch.values = (uint64_t)(uintptr_t)out_values;
	attr.batch.count = 4;
	assert_int_equal(sys_bpf(BPF_MAP_LOOKUP_BATCH, &attr), -ENOENT);
	assert_int_equal(attr.batch.count, 4);
	nsbpf_fd_close(rt, fd);
}

/* ---- ids, fds and info ---------------------------------------------------------------------- */

static void test_ids_and_fds(void **state)
{
	uint32_t id, next, key = 0;
	uint64_t value = 7, out = 0;
	union bpf_attr attr;
	int fd, fd2, dup_fd, rd;

	(void)state;
	fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	assert_true(fd >= 0);
	id = map_id_of(fd);
	assert_true(id > 0);
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, 0, &next), 0);
	assert_int_equal(next, id);
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, id, &next), -ENOENT);

	memset(&attr, 0, sizeof(attr));
	attr.map_id = id;
	fd2 = (int)sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr);
	assert_true(fd2 >= 0 && fd2 != fd);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, fd2, &key, &value, 0), 0);
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, &key, &out, 0), 0);
	assert_int_equal(out, 7);
	attr.open_flags = BPF_F_RDONLY;
	rd = (int)sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr);
	assert_true(rd >= 0);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, rd, &key, &value, 0), -EPERM);
	nsbpf_fd_close(rt, rd);
	nsbpf_fd_close(rt, fd2);

	/* a dup keeps the map; its last fd releases it at once */
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	assert_int_equal(nsbpf_fd_dup(rt, fd, dup_fd, true), 0);
	assert_int_equal(nsbpf_fd_close(rt, fd), 0);
	assert_int_equal(map_id_of(dup_fd), id);
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, 0, &next), 0);
	assert_int_equal(nsbpf_fd_close(rt, dup_fd), 0);
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, 0, &next), -ENOENT);
	attr.open_flags = 0;
	assert_int_equal(sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr), -ENOENT);

	/* ids keep growing */
	fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	assert_true(map_id_of(fd) > id);
	nsbpf_fd_close(rt, fd);

	/* forget drops the reference without closing */
	fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	nsbpf_fd_forget(rt, fd);
	assert_false(nsbpf_fd_owned(rt, fd));
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, 0, &next), -ENOENT);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);
}

static void test_info_len_rules(void **state)
{
	/* larger than the 6.18 struct the kernel uses (info.h), which is larger than ours */
	unsigned char buf[BPF_MAP_INFO_SIZE_6_18 + 16];
	struct bpf_map_info *info = (struct bpf_map_info *)buf;
	char *unmapped = bad_page(true);
	union bpf_attr attr;
	int fd;

	(void)state;
	fd = map_create(BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info = (uint64_t)(uintptr_t)buf;

	/* the caller's bytes come back where the map sets nothing */
	memset(buf, 0xab, sizeof(buf));
	attr.info.info_len = sizeof(*info);
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	assert_int_equal(attr.info.info_len, sizeof(*info));
	assert_int_equal(info->type, BPF_MAP_TYPE_HASH);
	assert_int_equal(info->key_size, 4);
	assert_int_equal(info->ifindex, 0xabababab);
	assert_int_equal(info->btf_vmlinux_value_type_id, 0);
	assert_int_equal(info->map_extra, 0);

	/* smaller: truncated */
	memset(buf, 0xab, sizeof(buf));
	attr.info.info_len = 8;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	assert_int_equal(attr.info.info_len, 8);
	assert_int_equal(buf[8], 0xab);

	/* larger: a zero tail is accepted, a non-zero one is -E2BIG */
	memset(buf, 0, sizeof(buf));
	attr.info.info_len = sizeof(buf);
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	assert_int_equal(attr.info.info_len, BPF_MAP_INFO_SIZE_6_18);
	buf[sizeof(buf) - 1] = 1;
	attr.info.info_len = sizeof(buf);
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), -E2BIG);
	attr.info.info_len = 4097;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), -E2BIG);

	/* pointers and fds */
	attr.info.info_len = 8;
	attr.info.info = 0;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), -EFAULT);
	attr.info.info = (uint64_t)(uintptr_t)unmapped;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), -EFAULT);
	attr.info.info_len = 0;
	attr.info.info = 0;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	attr.info.bpf_fd = 999;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), -EBADFD);
	nsbpf_fd_close(rt, fd);
}

static void test_fdinfo_readlink(void **state)
{
	char text[1024], link[64];
	union bpf_attr attr;
	long len;
	int fd, dup_fd;

	(void)state;
	fd = map_create(BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	len = nsbpf_fd_show_fdinfo(rt, fd, text, sizeof(text));
	assert_true(len > 0 && len < (long)sizeof(text));
	assert_non_null(strstr(text, "pos:\t0\nflags:\t02000002\nmnt_id:\t"));
	assert_non_null(strstr(text, "\nmap_type:\t1\nkey_size:\t4\nvalue_size:\t8\n"
				     "max_entries:\t16\nmap_flags:\t0x0\nmap_extra:\t0x0\nmemlock:\t"));
	assert_non_null(strstr(text, "\nfrozen:\t0\n"));
	/* truncated: the whole length is still reported */
	assert_int_equal(nsbpf_fd_show_fdinfo(rt, fd, text, 10), len);

	len = nsbpf_fd_readlink(rt, fd, link, sizeof(link));
	assert_int_equal(len, strlen("anon_inode:bpf-map"));
	assert_memory_equal(link, "anon_inode:bpf-map", len);

	dup_fd = fcntl(fd, F_DUPFD, 0);
	assert_int_equal(nsbpf_fd_dup(rt, fd, dup_fd, false), 0);
	nsbpf_fd_show_fdinfo(rt, dup_fd, text, sizeof(text));
	assert_non_null(strstr(text, "flags:\t02\n"));
	assert_int_equal(nsbpf_fd_set_cloexec(rt, dup_fd, true), 0);
	nsbpf_fd_show_fdinfo(rt, dup_fd, text, sizeof(text));
	assert_non_null(strstr(text, "flags:\t02000002\n"));
	nsbpf_fd_close(rt, dup_fd);
	nsbpf_fd_close(rt, fd);

	fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 16, BPF_F_RDONLY);
	nsbpf_fd_show_fdinfo(rt, fd, text, sizeof(text));
	assert_non_null(strstr(text, "flags:\t02000000\n"));
	nsbpf_fd_close(rt, fd);

	/* stats fds */
	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	fd = (int)sys_bpf(BPF_ENABLE_STATS, &attr);
	assert_true(fd >= 0);
	assert_int_equal(atomic_load(&bpf_state_get(rt)->stats_enabled), 1);
	len = nsbpf_fd_readlink(rt, fd, link, sizeof(link));
	assert_memory_equal(link, "anon_inode:bpf-stats", len);
	nsbpf_fd_show_fdinfo(rt, fd, text, sizeof(text));
	assert_non_null(strstr(text, "flags:\t02000000\n"));
	/* not a map: -EINVAL; not a bpf object at all for info */
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd, NULL, NULL, 0), -EINVAL);
	attr.info.bpf_fd = (uint32_t)fd;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), -EINVAL);
	nsbpf_fd_close(rt, fd);
	assert_int_equal(atomic_load(&bpf_state_get(rt)->stats_enabled), 0);
	attr.enable_stats.type = 1;
	assert_int_equal(sys_bpf(BPF_ENABLE_STATS, &attr), -EINVAL);
	assert_int_equal(nsbpf_fd_show_fdinfo(rt, 999, text, sizeof(text)), -EBADF);
}

/* ---- bpffs ------------------------------------------------------------------------------- */

static long obj_pin(int fd, const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = (uint32_t)fd;
	attr.pathname = (uint64_t)(uintptr_t)path;
	return sys_bpf(BPF_OBJ_PIN, &attr);
}

static long obj_get(const char *path, uint32_t flags)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(uintptr_t)path;
	attr.file_flags = flags;
	return sys_bpf(BPF_OBJ_GET, &attr);
}

static void test_pin_get(void **state)
{
	struct bpf_state *st = bpf_state_get(rt);
	uint32_t id, next, key = 0;
	uint64_t value = 5;
	int fd, got;

	(void)state;
	fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	id = map_id_of(fd);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/m"), 0);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/m"), -EEXIST);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf"), -EEXIST);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/nodir/m"), -ENOENT);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/m/x"), -ENOTDIR);
	assert_int_equal(obj_pin(fd, "/tmp/nsbpf-not-bpffs"), -EPERM);
	assert_int_equal(obj_pin(fd, "/nonexistent-dir/x"), -ENOENT);
	assert_int_equal(obj_pin(fd, NULL), -EFAULT);
	assert_int_equal(obj_pin(999, "/sys/fs/bpf/x"), -EINVAL);
	assert_int_equal(obj_pin(fd, ""), -ENOENT);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/a.b"), -EPERM);

	/* the pin keeps the map alive */
	nsbpf_fd_close(rt, fd);
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, 0, &next), 0);
	assert_int_equal(next, id);

	got = (int)obj_get("/sys/fs/bpf/m", 0);
	assert_true(got >= 0);
	assert_int_equal(map_id_of(got), id);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, got, &key, &value, 0), 0);
	nsbpf_fd_close(rt, got);
	got = (int)obj_get("/sys/fs/bpf/./m", BPF_F_RDONLY);
	assert_int_equal(map_elem(BPF_MAP_UPDATE_ELEM, got, &key, &value, 0), -EPERM);
	nsbpf_fd_close(rt, got);
	assert_int_equal(obj_get("/sys/fs/bpf/m", BPF_F_RDONLY | BPF_F_WRONLY), -EINVAL);
	assert_int_equal(obj_get("/sys/fs/bpf/none", 0), -ENOENT);
	assert_int_equal(obj_get("/sys/fs/bpf", 0), -EACCES);
	assert_int_equal(obj_get("/tmp", 0), -EACCES);

	/* directories, for the shim's mkdir/rmdir/unlink */
	assert_int_equal(bpffs_mkdir(st, "/sys/fs/bpf/d", 0700), 0);
	assert_int_equal(bpffs_mkdir(st, "/sys/fs/bpf/d", 0700), -EEXIST);
	assert_true(bpffs_path_is_ours(st, "/sys/fs/bpf/d/../x"));
	assert_false(bpffs_path_is_ours(st, "/sys/fs/bpfx"));
	fd = (int)obj_get("/sys/fs/bpf/m", 0);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/d/m2"), 0);
	assert_int_equal(bpffs_rmdir(st, "/sys/fs/bpf/d"), -ENOTEMPTY);
	assert_int_equal(bpffs_unlink(st, "/sys/fs/bpf/d"), -EISDIR);
	assert_int_equal(bpffs_unlink(st, "/sys/fs/bpf/d/m2"), 0);
	assert_int_equal(bpffs_rmdir(st, "/sys/fs/bpf/d"), 0);
	nsbpf_fd_close(rt, fd);

	/* the last pin gone, the map goes */
	assert_int_equal(bpffs_unlink(st, "/sys/fs/bpf/m"), 0);
	assert_int_equal(next_id(BPF_MAP_GET_NEXT_ID, 0, &next), -ENOENT);
	assert_int_equal(bpffs_unlink(st, "/sys/fs/bpf/m"), -ENOENT);

	/* pins left at the end are released with the runtime */
	fd = map_create(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/left"), 0);
}

/* ---- links ------------------------------------------------------------------------------- */

/* A link type of the test's own: counts what the generic layer calls. */
struct test_link {
	struct bpf_link link;
	bool attached;
};

static int nr_release, nr_dealloc, nr_detach;

static void test_link_release(struct bpf_link *link)
{
	((struct test_link *)link)->attached = false;
	nr_release++;
}

static void test_link_dealloc(struct bpf_link *link)
{
	nr_dealloc++;
	free(link);
}

static int test_link_detach(struct bpf_link *link)
{
	((struct test_link *)link)->attached = false;
	nr_detach++;
	return 0;
}

static int test_link_fill_info(const struct bpf_link *link, struct bpf_link_info *info)
{
	info->netns.netns_ino = ((const struct test_link *)link)->attached ? 77 : 0;
	return 0;
}

static int test_link_show_fdinfo(const struct bpf_link *link, char *buf, size_t size)
{
	return snprintf(buf, size, "attached:\t%d\n", ((const struct test_link *)link)->attached);
}

static const struct bpf_link_ops test_link_ops = {
	.release = test_link_release,
	.dealloc = test_link_dealloc,
	.detach = test_link_detach,
	.fill_link_info = test_link_fill_info,
	.show_fdinfo = test_link_show_fdinfo,
};

static const struct bpf_link_ops test_link_ops_nodetach = {
	.release = test_link_release,
	.dealloc = test_link_dealloc,
};

/* Creates a link without a program, through prime and then settle or cleanup. */
static int test_link_create(const struct bpf_link_ops *ops, bool fail, uint32_t *idp)
{
	struct bpf_state *st = bpf_state_get(rt);
	struct bpf_link_primer primer;
	struct test_link *l = calloc(1, sizeof(*l));
	union bpf_attr attr;
	int err;

	bpf_link_init(&l->link, st, BPF_LINK_TYPE_NETNS, ops, NULL);
	err = bpf_link_prime(&l->link, &primer);
	if (err)
		return err;
	*idp = primer.id;
	/* reserved: seen by GET_NEXT_ID, but not yet openable */
	memset(&attr, 0, sizeof(attr));
	attr.link_id = primer.id;
	assert_int_equal(sys_bpf(BPF_LINK_GET_FD_BY_ID, &attr), -EAGAIN);
	if (fail) {
		bpf_link_cleanup(&primer);
		return -EBUSY;
	}
	l->attached = true;
	return bpf_link_settle(&primer);
}

static void test_link_generic(void **state)
{
	struct bpf_link_info info;
	uint32_t id, id2, next;
	char text[512], name[64];
	union bpf_attr attr;
	int fd, fd2;
	long len;

	(void)state;
	nr_release = nr_dealloc = nr_detach = 0;
	fd = test_link_create(&test_link_ops, false, &id);
	assert_true(fd >= 0);
	assert_int_equal(next_id(BPF_LINK_GET_NEXT_ID, 0, &next), 0);
	assert_int_equal(next, id);

	len = nsbpf_fd_readlink(rt, fd, name, sizeof(name));
	assert_memory_equal(name, "anon_inode:bpf_link", len);
	nsbpf_fd_show_fdinfo(rt, fd, text, sizeof(text));
	assert_non_null(strstr(text, "flags:\t02000000\n"));
	snprintf(name, sizeof(name), "link_type:\tnetns\nlink_id:\t%u\nattached:\t1\n", id);
	assert_non_null(strstr(text, name));

	/* info: type, id, the type's part; without a prog, prog_id echoes as the pad does */
	memset(&info, 0xcd, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	assert_int_equal(sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr), 0);
	assert_int_equal(info.type, BPF_LINK_TYPE_NETNS);
	assert_int_equal(info.id, id);
	assert_int_equal(info.prog_id, 0xcdcdcdcd); /* no prog: the caller's bytes */
	assert_int_equal(info.netns.netns_ino, 77);
	assert_int_equal(info.netns.attach_type, 0xcdcdcdcd);

	/* GET_FD_BY_ID: another file, named bpf-link */
	memset(&attr, 0, sizeof(attr));
	attr.link_id = id;
	fd2 = (int)sys_bpf(BPF_LINK_GET_FD_BY_ID, &attr);
	assert_true(fd2 >= 0);
	len = nsbpf_fd_readlink(rt, fd2, name, sizeof(name));
	assert_memory_equal(name, "anon_inode:bpf-link", len);

	/* detach: the link stays; info reports no target */
	memset(&attr, 0, sizeof(attr));
	attr.link_detach.link_fd = (uint32_t)fd;
	assert_int_equal(sys_bpf(BPF_LINK_DETACH, &attr), 0);
	assert_int_equal(sys_bpf(BPF_LINK_DETACH, &attr), 0);
	assert_int_equal(nr_detach, 2);

	/* update: flags, then fds */
	memset(&attr, 0, sizeof(attr));
	attr.link_update.link_fd = (uint32_t)fd;
	attr.link_update.flags = 2;
	assert_int_equal(sys_bpf(BPF_LINK_UPDATE, &attr), -EINVAL);
	attr.link_update.flags = 0;
	attr.link_update.link_fd = 999;
	assert_int_equal(sys_bpf(BPF_LINK_UPDATE, &attr), -EBADF);

	/* pinned, the link survives its fds */
	assert_int_equal(obj_pin(fd, "/sys/fs/bpf/link"), 0);
	nsbpf_fd_close(rt, fd);
	nsbpf_fd_close(rt, fd2);
	assert_int_equal(nr_dealloc, 0);
	assert_int_equal(obj_get("/sys/fs/bpf/link", BPF_F_RDONLY), -EINVAL);
	fd = (int)obj_get("/sys/fs/bpf/link", 0);
	assert_true(fd >= 0);
	assert_int_equal(bpffs_unlink(bpf_state_get(rt), "/sys/fs/bpf/link"), 0);
	nsbpf_fd_close(rt, fd);
	/* no prog: release is not called, dealloc is; the id is gone at once */
	assert_int_equal(nr_release, 0);
	assert_int_equal(nr_dealloc, 1);
	assert_int_equal(next_id(BPF_LINK_GET_NEXT_ID, 0, &next), -ENOENT);

	/* a failed attach burns its id */
	assert_int_equal(test_link_create(&test_link_ops, true, &id2), -EBUSY);
	assert_int_equal(nr_dealloc, 2);
	assert_true(id2 > id);
	assert_int_equal(next_id(BPF_LINK_GET_NEXT_ID, 0, &next), -ENOENT);
	fd = test_link_create(&test_link_ops, false, &id);
	assert_true(id > id2);

	/* no detach op: -EOPNOTSUPP */
	fd2 = test_link_create(&test_link_ops_nodetach, false, &id2);
	memset(&attr, 0, sizeof(attr));
	attr.link_detach.link_fd = (uint32_t)fd2;
	assert_int_equal(sys_bpf(BPF_LINK_DETACH, &attr), -EOPNOTSUPP);
	/* a link is not a map */
	assert_int_equal(map_elem(BPF_MAP_LOOKUP_ELEM, fd2, NULL, NULL, 0), -EINVAL);
	nsbpf_fd_close(rt, fd2);
	nsbpf_fd_close(rt, fd);
	assert_int_equal(nr_dealloc, 4);
}

/* ---- attachment front ends ---------------------------------------------------------------- */

static void test_attach_front_ends(void **state)
{
	union bpf_attr attr;

	(void)state;
	memset(&attr, 0, sizeof(attr));
	attr.attach_type = 9999;
	assert_int_equal(sys_bpf(BPF_PROG_ATTACH, &attr), -EINVAL);
	attr.attach_type = BPF_FLOW_DISSECTOR;
	attr.attach_bpf_fd = 999;
	assert_int_equal(sys_bpf(BPF_PROG_ATTACH, &attr), -EBADF);
	attr.attach_flags = 0x100;
	assert_int_equal(sys_bpf(BPF_PROG_ATTACH, &attr), -EINVAL);

	memset(&attr, 0, sizeof(attr));
	attr.query.query_flags = 2;
	assert_int_equal(sys_bpf(BPF_PROG_QUERY, &attr), -EINVAL);

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = 999;
	assert_int_equal(sys_bpf(BPF_LINK_CREATE, &attr), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uaccess_faults),
		cmocka_unit_test(test_uaccess_real_segv),
		cmocka_unit_test_setup_teardown(test_attr_size_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_attr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_elements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_and_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_len_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdinfo_readlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_generic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_front_ends, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
