// SPDX-License-Identifier: MIT
/*
 * attr_abi.c - kdiff scenario: the bpf(2) entry itself, through syscall(__NR_bpf) directly. A
 * caller's attr may be larger than the union if the extra bytes are zero (-E2BIG otherwise, and
 * always beyond a page), smaller (zero-extended), or unreadable (-EFAULT); fields after a
 * command's last one must be zero (-EINVAL); an unknown command is -EINVAL.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static unsigned char buf[8192];

static union bpf_attr *map_attr(void)
{
	union bpf_attr *attr = (union bpf_attr *)buf;

	memset(buf, 0, sizeof(buf));
	attr->map_type = BPF_MAP_TYPE_ARRAY;
	attr->key_size = 4;
	attr->value_size = 4;
	attr->max_entries = 1;
	return attr;
}

static void create(const char *what, unsigned int size)
{
	long fd = tr_sys_bpf(BPF_MAP_CREATE, buf, size);

	tr_fd(fd, "bpf(MAP_CREATE, %s, size %u)", what, size);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	unsigned int usize = sizeof(union bpf_attr);
	union bpf_attr *attr;
	__u32 id;
	int fd;

	tr_begin("attr_abi");

	tr_say("# sizes");
	map_attr();
	create("good", usize);
	create("good, zero tail", usize + 8);
	create("good, zero tail to a page", 4096);
	create("good, zero tail beyond a page", 4097);
	map_attr();
	buf[4095] = 1;
	create("byte 4095 set", 4096);
	map_attr();
	create("first 12 bytes only", 12);
	create("first 16 bytes", 16);
	create("size 0", 0);
	tr_rc(tr_sys_bpf(BPF_MAP_CREATE, NULL, 0), "bpf(MAP_CREATE, NULL, 0)");
	tr_rc(tr_sys_bpf(BPF_MAP_CREATE, NULL, usize), "bpf(MAP_CREATE, NULL, %s)", "sizeof");
	tr_rc(tr_sys_bpf(BPF_MAP_CREATE, (void *)8, usize), "bpf(MAP_CREATE, (void *)8, %s)",
	      "sizeof");
	/* An attr that ends where the mapping ends: readable up to its size only. */
	tr_rc(tr_sys_bpf(BPF_MAP_CREATE, buf + sizeof(buf) - 12, 12),
	      "bpf(MAP_CREATE, last 12 bytes of a buffer, 12)");

	tr_say("# commands");
	map_attr();
	tr_rc(tr_sys_bpf(999, buf, usize), "bpf(999)");
	tr_rc(tr_sys_bpf(-1, buf, usize), "bpf(-1)");
	memset(buf, 0, sizeof(buf));
	tr_rc(tr_sys_bpf(BPF_PROG_LOAD, buf, usize), "bpf(PROG_LOAD, zero attr)");
	tr_rc(tr_sys_bpf(BPF_MAP_LOOKUP_ELEM, buf, usize), "bpf(MAP_LOOKUP_ELEM, zero attr)");
	tr_rc(tr_sys_bpf(BPF_OBJ_GET, buf, usize), "bpf(OBJ_GET, zero attr)");
	tr_rc(tr_sys_bpf(BPF_MAP_GET_NEXT_KEY, buf, usize), "bpf(MAP_GET_NEXT_KEY, zero attr)");

	tr_say("# fields after a command's last field");
	attr = map_attr();
	fd = tr_fd(tr_sys_bpf(BPF_MAP_CREATE, buf, usize), "bpf(MAP_CREATE)");
	id = tr_obj_id(TR_MAP, fd);
	memset(buf, 0, sizeof(buf));
	attr->start_id = 0;
	attr->open_flags = 1;
	tr_rc(tr_sys_bpf(BPF_MAP_GET_NEXT_ID, buf, usize), "bpf(MAP_GET_NEXT_ID, open_flags 1)");
	memset(buf, 0, sizeof(buf));
	attr->map_id = id;
	attr->open_flags = 1u << 20;
	tr_rc(tr_sys_bpf(BPF_MAP_GET_FD_BY_ID, buf, usize),
	      "bpf(MAP_GET_FD_BY_ID, %s, open_flags 1<<20)", tr_id(TR_MAP, id));
	memset(buf, 0, sizeof(buf));
	attr->map_fd = fd;
	attr->flags = 0;
	buf[offsetof(union bpf_attr, flags) + 8] = 1;
	tr_rc(tr_sys_bpf(BPF_MAP_FREEZE, buf, usize), "bpf(MAP_FREEZE, byte after map_fd set)");
	memset(buf, 0, sizeof(buf));
	attr->info.bpf_fd = fd;
	buf[sizeof(attr->info)] = 1;
	tr_rc(tr_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, buf, usize),
	      "bpf(OBJ_GET_INFO_BY_FD, byte after info set)");
	memset(buf, 0, sizeof(buf));
	attr->map_fd = fd;
	attr->flags = 0;
	tr_rc(tr_sys_bpf(BPF_MAP_FREEZE, buf, usize), "bpf(MAP_FREEZE, %s)", tr_fdname(fd));
	tr_close(fd);
	return tr_end();
}
