// SPDX-License-Identifier: MIT
/*
 * pinning.c - kdiff scenario: pinning objects in bpffs. The scenario works in its own directory
 * of the bpffs (tr_pin_dir(): natively a fresh bpffs that run-scenario mounts in a private mount
 * namespace; under the shim the shim's own /sys/fs/bpf). Pin, get, pin over an existing name,
 * get of a missing name, pins outside a bpffs, read-only gets, what a pinned file looks like
 * (mode, type, directory listing), unlink, and that a pin alone keeps an object (and its id)
 * alive after its last fd is closed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int pin(int fd, const char *name)
{
	return tr_rc(bpf_obj_pin(fd, tr_pin_path(name)), "bpf_obj_pin(%s, $PIN/%s)",
		     tr_fdname(fd), name);
}

static int get(const char *name, __u32 flags)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = flags);

	return tr_fd(bpf_obj_get_opts(tr_pin_path(name), &opts), "bpf_obj_get($PIN/%s, %#x)",
		     name, flags);
}

static void show(const char *name)
{
	struct stat st;

	if (tr_rc(stat(tr_pin_path(name), &st), "stat($PIN/%s)", name))
		return;
	tr_say("  %s, mode %o, nlink %lu, size %lld", S_ISREG(st.st_mode) ? "regular" :
		S_ISDIR(st.st_mode) ? "directory" : "other", st.st_mode & 07777,
		(unsigned long)st.st_nlink, (long long)st.st_size);
}

/*
 * Whether an id goes away within two seconds. bpffs drops a pin's reference when the inode is
 * freed, after an RCU grace period, so the kernel lets the id go shortly after unlink returns;
 * "gone" is the fact to compare, not the moment.
 */
static void wait_gone(enum tr_kind kind, __u32 id)
{
	int i, fd = -1;

	for (i = 0; i < 200; i++) {
		fd = kind == TR_MAP ? bpf_map_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			break;
		close(fd);
		usleep(10000);
	}
	tr_say("%s gone: %s", tr_id(kind, id), fd < 0 ? (errno == ENOENT ? "yes, ENOENT" :
							     "error other than ENOENT") : "no");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's names, sorted: the order of readdir is the file system's. */
static void list(void)
{
	char *names[32];
	struct dirent *de;
	int n = 0, i;
	DIR *d = opendir(tr_pin_dir());

	if (!d) {
		tr_rc(-1, "opendir($PIN)");
		return;
	}
	while ((de = readdir(d)) && n < 32)
		names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	printf("ls($PIN) =");
	for (i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	putchar('\n');
}

int main(void)
{
	__u32 mid, pid;
	int m, p, fd, fd2;
	char tmp[] = "/tmp/kdiff-pin.XXXXXX";

	tr_begin("pinning");
	tr_pin_dir();
	m = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "pinned", 4, 8, 2, NULL),
		  "bpf_map_create(ARRAY, \"pinned\", 4, 8, 2)");
	mid = tr_obj_id(TR_MAP, m);
	p = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "pinp", "GPL", ret0, 2, NULL),
		  "bpf_prog_load(SOCKET_FILTER, \"pinp\")");
	pid = tr_obj_id(TR_PROG, p);
	tr_update(m, 1, 42, BPF_ANY);

	tr_say("# pin and get");
	pin(m, "map");
	pin(m, "map");
	pin(p, "map");
	pin(m, "map2");
	pin(p, "prog");
	show("map");
	show("prog");
	list();
	fd = get("map", 0);
	tr_obj_id(TR_MAP, fd);
	tr_lookup(fd, 1, NULL);
	tr_fdinfo(fd);
	tr_close(fd);
	fd = get("prog", 0);
	tr_obj_id(TR_PROG, fd);
	tr_close(fd);
	get("missing", 0);
	get("map", BPF_F_RDONLY | BPF_F_WRONLY);
	get("map", 1u << 5);
	fd = get("map", BPF_F_RDONLY);
	tr_update(fd, 1, 43, BPF_ANY);
	tr_lookup(fd, 1, NULL);
	tr_close(fd);
	fd = get("map", BPF_F_WRONLY);
	tr_update(fd, 1, 44, BPF_ANY);
	tr_lookup(fd, 1, NULL);
	tr_close(fd);

	tr_say("# paths that are not pins");
	tr_rc(bpf_obj_pin(m, tr_pin_path("nodir/map")), "bpf_obj_pin(%s, $PIN/nodir/map)",
	      tr_fdname(m));
	tr_rc(bpf_obj_pin(m, tr_pin_dir()), "bpf_obj_pin(%s, $PIN)", tr_fdname(m));
	/* bpffs keeps names with a dot for itself. */
	pin(m, "a.b");
	tr_rc(bpf_obj_pin(999, tr_pin_path("bad")), "bpf_obj_pin(999, $PIN/bad)");
	fd = mkstemp(tmp);
	tr_rc(bpf_obj_pin(m, "/tmp/kdiff-pin-outside"), "bpf_obj_pin(%s, /tmp/...)",
	      tr_fdname(m));
	tr_rc(bpf_obj_get(tmp), "bpf_obj_get(a regular file in /tmp)");
	close(fd);
	unlink(tmp);
	tr_rc(mkdir(tr_pin_path("sub"), 0755), "mkdir($PIN/sub)");
	get("sub", 0);
	pin(m, "sub/map");
	show("sub/map");
	tr_rc(unlink(tr_pin_path("sub/map")), "unlink($PIN/sub/map)");
	tr_rc(rmdir(tr_pin_path("sub")), "rmdir($PIN/sub)");

	tr_say("# a pin keeps its object alive");
	tr_close(m);
	tr_close(p);
	fd = tr_fd(bpf_map_get_fd_by_id(mid), "bpf_map_get_fd_by_id(%s)", tr_id(TR_MAP, mid));
	tr_lookup(fd, 1, NULL);
	tr_close(fd);
	fd = tr_fd(bpf_prog_get_fd_by_id(pid), "bpf_prog_get_fd_by_id(%s)", tr_id(TR_PROG, pid));
	tr_close(fd);
	tr_rc(unlink(tr_pin_path("prog")), "unlink($PIN/prog)");
	get("prog", 0);
	wait_gone(TR_PROG, pid);
	tr_rc(unlink(tr_pin_path("map")), "unlink($PIN/map)");
	fd = tr_fd(bpf_map_get_fd_by_id(mid), "bpf_map_get_fd_by_id(%s)", tr_id(TR_MAP, mid));
	tr_close(fd);
	/* An open fd keeps the object after its last pin goes. */
	fd = get("map2", 0);
	tr_rc(unlink(tr_pin_path("map2")), "unlink($PIN/map2)");
	list();
	fd2 = tr_fd(bpf_map_get_fd_by_id(mid), "bpf_map_get_fd_by_id(%s)", tr_id(TR_MAP, mid));
	tr_close(fd2);
	tr_close(fd);
	wait_gone(TR_MAP, mid);
	tr_pin_cleanup();
	return tr_end();
}
