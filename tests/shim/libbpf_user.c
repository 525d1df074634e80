// SPDX-License-Identifier: MIT
/*
 * libbpf_user.c - an ordinary libbpf program, unaware of nsbpf, that the shim tests run as an
 * unprivileged user: under LD_PRELOAD=libnsbpf-preload.so (linked with the system's
 * libbpf.so), and linked statically with libbpf.a and nsbpf-wrap.o. Each argument names one
 * check; the process exits 0 when it holds, 1 (with the failed line on stderr) otherwise.
 *
 * Before any check, a seccomp filter makes any bpf(2) that reaches the kernel kill the
 * process: whatever the checks see came from the shim. "kernel" is the opposite check, run
 * without the shim: the host really refuses bpf() to this user.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s failed (errno %d: %s)\n", __FILE__, __LINE__,   \
				#cond, errno, strerror(errno));                                    \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

/* The initial network namespace's inode number on Linux (PROC_NET_INIT_INO). */
#define INIT_NET_INO 0xEFFFFFF9u

static void deny_kernel_bpf(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(!prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog));
}

/* r0 = 0; exit: the smallest socket filter. */
static int load_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "shim_test", "GPL", insns, 2, NULL);
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	CHECK(!bpf_obj_get_info_by_fd(fd, &info, &len));
	return info.id;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	CHECK(!bpf_obj_get_info_by_fd(fd, &info, &len));
	return info.id;
}

static void check_kernel(void)
{
	CHECK(load_prog() < 0 && (errno == EPERM || errno == EACCES));
}

static void check_prog_load(void)
{
	int fd = load_prog();

	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
	CHECK(!close(fd));
}

static void check_map(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "shim_map", 4, 8, 16, NULL);
	__u64 val = 42, out = 0;
	__u32 key = 1;

	CHECK(fd >= 0);
	CHECK(!bpf_map_update_elem(fd, &key, &val, BPF_ANY));
	CHECK(!bpf_map_lookup_elem(fd, &key, &out) && out == 42);
	key = 2;
	CHECK(bpf_map_lookup_elem(fd, &key, &out) < 0 && errno == ENOENT);
	CHECK(!close(fd));
}

/*
 * libbpf's global data: an mmapable array mapped shared; stores through the mapping are the
 * map's values, a writable mapping keeps the map from being frozen (-EBUSY), and after munmap
 * it can be. A prog fd cannot be mapped (-ENODEV).
 */
static void check_mmap(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "shim_data", 4, 8, 4, &opts);
	int pfd = load_prog();
	__u64 *vals, out = 0;
	__u32 key = 2;

	CHECK(fd >= 0 && pfd >= 0);
	vals = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(vals != MAP_FAILED);
	vals[2] = 0x1234;
	CHECK(!bpf_map_lookup_elem(fd, &key, &out) && out == 0x1234);
	out = 77;
	CHECK(!bpf_map_update_elem(fd, &key, &out, BPF_ANY) && vals[2] == 77);
	CHECK(bpf_map_freeze(fd) < 0 && errno == EBUSY);
	CHECK(!munmap(vals, 4096));
	CHECK(!bpf_map_freeze(fd));
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
	      errno == EPERM);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, pfd, 0) == MAP_FAILED && errno == ENODEV);
	CHECK(!close(fd) && !close(pfd));
}

static void check_info(void)
{
	struct bpf_prog_info pinfo = {};
	struct bpf_map_info minfo = {};
	__u32 len = sizeof(pinfo);
	int pfd = load_prog(), mfd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "m", 4, 4, 2, NULL);

	CHECK(pfd >= 0 && mfd >= 0);
	CHECK(!bpf_obj_get_info_by_fd(pfd, &pinfo, &len));
	CHECK(pinfo.type == BPF_PROG_TYPE_SOCKET_FILTER && pinfo.id > 0);
	CHECK(!strcmp(pinfo.name, "shim_test"));
	len = sizeof(minfo);
	CHECK(!bpf_obj_get_info_by_fd(mfd, &minfo, &len));
	CHECK(minfo.type == BPF_MAP_TYPE_ARRAY && minfo.max_entries == 2 && minfo.id > 0);
	close(pfd);
	close(mfd);
}

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, size - 1);
	CHECK(n > 0);
	buf[n] = '\0';
	close(fd);
}

static void check_fdinfo(void)
{
	char path[64], text[4096], line[256];
	int fd = load_prog(), lines = 0;
	FILE *f;

	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	read_file(path, text, sizeof(text));
	CHECK(strstr(text, "pos:\t0\n") == text);
	CHECK(strstr(text, "\nflags:\t02000002\n"));
	CHECK(strstr(text, "\nprog_type:\t1\n"));
	CHECK(strstr(text, "\nprog_tag:\t"));
	snprintf(line, sizeof(line), "\nprog_id:\t%u\n", prog_id(fd));
	CHECK(strstr(text, line));
	/* libbpf's way: stdio on /proc/<pid>/fdinfo/N. */
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", getpid(), fd);
	f = fopen(path, "re");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	CHECK(lines >= 5);
	close(fd);
}

static void check_readlink(void)
{
	int pfd = load_prog(), mfd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "m", 4, 4, 2, NULL);
	char path[64], buf[64];
	ssize_t n;

	CHECK(pfd >= 0 && mfd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	n = readlink(path, buf, sizeof(buf));
	CHECK(n == 19 && !memcmp(buf, "anon_inode:bpf-prog", 19));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	n = readlink(path, buf, sizeof(buf));
	CHECK(n == 18 && !memcmp(buf, "anon_inode:bpf-map", 18));
	/* Truncated without a NUL, as the kernel does. */
	CHECK(readlink(path, buf, 4) == 4 && !memcmp(buf, "anon", 4));
	close(pfd);
	close(mfd);
}

static void check_close(void)
{
	int fd = load_prog();
	__u32 id, next;

	CHECK(fd >= 0);
	id = prog_id(fd);
	CHECK(!bpf_prog_get_next_id(id - 1, &next) && next == id);
	CHECK(!close(fd));
	CHECK(bpf_prog_get_next_id(id - 1, &next) < 0 && errno == ENOENT);
	CHECK(bpf_prog_get_fd_by_id(id) < 0 && errno == ENOENT);
	/* The fd is really gone. */
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);

	/* The same through syscall(2). */
	fd = load_prog();
	CHECK(fd >= 0);
	id = prog_id(fd);
	CHECK(!syscall(__NR_close, fd));
	CHECK(bpf_prog_get_fd_by_id(id) < 0 && errno == ENOENT);
}

static void check_dup(void)
{
	int fd = load_prog(), d1, d2, d3, target;
	__u32 id;

	CHECK(fd >= 0);
	id = prog_id(fd);
	d1 = dup(fd);
	d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	CHECK(d1 >= 0 && d2 >= 100);
	target = open("/dev/null", O_RDONLY);
	CHECK(target >= 0);
	d3 = dup2(fd, target);
	CHECK(d3 == target);
	CHECK(!close(fd));
	CHECK(prog_id(d1) == id && prog_id(d2) == id && prog_id(d3) == id);
	CHECK(!close(d1) && !close(d2));
	CHECK(prog_id(d3) == id);
	/* Overwriting the last fd with another file releases the program. */
	fd = open("/dev/null", O_RDONLY);
	CHECK(dup2(fd, d3) == d3);
	CHECK(bpf_prog_get_fd_by_id(id) < 0 && errno == ENOENT);
	close(fd);
	close(d3);
}

static ino_t fd_ino(int fd)
{
	struct stat st;

	CHECK(!fstat(fd, &st));
	return st.st_ino;
}

static ino_t path_ino(const char *path)
{
	struct stat st;

	CHECK(!stat(path, &st));
	return st.st_ino;
}

static void check_netns(void)
{
	char path[64], buf[64], want[64];
	int init_fd, fd;
	ino_t ino;

	init_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(init_fd >= 0);
	CHECK(fd_ino(init_fd) == INIT_NET_INO);
	CHECK(path_ino("/proc/self/ns/net") == INIT_NET_INO);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", getpid());
	CHECK(path_ino(path) == INIT_NET_INO);

	CHECK(!unshare(CLONE_NEWNET));
	fd = open("/proc/thread-self/ns/net", O_RDONLY);
	CHECK(fd >= 0);
	ino = fd_ino(fd);
	CHECK(ino != INIT_NET_INO);
	CHECK(path_ino("/proc/self/ns/net") == ino);
	snprintf(want, sizeof(want), "net:[%lu]", (unsigned long)ino);
	CHECK(readlink("/proc/self/ns/net", buf, sizeof(buf)) == (ssize_t)strlen(want));
	CHECK(!memcmp(buf, want, strlen(want)));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	CHECK(readlink(path, buf, sizeof(buf)) == (ssize_t)strlen(want));

	CHECK(!setns(init_fd, CLONE_NEWNET));
	CHECK(path_ino("/proc/self/ns/net") == INIT_NET_INO);
	CHECK(!setns(fd, 0));
	CHECK(path_ino("/proc/self/ns/net") == ino);
	CHECK(setns(fd, CLONE_NEWUTS) < 0 && errno == EINVAL);
	close(fd);
	close(init_fd);
}

/* The cgroup2 mount point, as /proc/self/mounts has it. */
static void cgroup_mount(char *dir)
{
	char line[512], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");

	CHECK(f);
	dir[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %255s %63s", dir, type) == 2 && !strcmp(type, "cgroup2"))
			break;
	fclose(f);
	CHECK(dir[0]);
}

static void check_cgroup(void)
{
	char root[256], dir[300], sub[320];
	int fd;

	cgroup_mount(root);
	snprintf(dir, sizeof(dir), "%s/nsbpf-shim-test", root);
	snprintf(sub, sizeof(sub), "%s/child", dir);
	CHECK(!mkdir(dir, 0755));
	CHECK(mkdir(dir, 0755) < 0 && errno == EEXIST);
	CHECK(!mkdir(sub, 0755));
	fd = open(root, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0 && fd_ino(fd) == 1);
	close(fd);
	fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0 && fd_ino(fd) > 1);
	CHECK(path_ino(sub) == fd_ino(fd));
	CHECK(rmdir(dir) < 0 && errno == EBUSY);
	CHECK(!rmdir(sub));
	CHECK(!rmdir(dir));
	CHECK(rmdir(dir) < 0 && errno == ENOENT);
	CHECK(open(dir, O_RDONLY | O_DIRECTORY) < 0 && errno == ENOENT);
	/* A removed cgroup stays open. */
	CHECK(fd_ino(fd) > 1);
	close(fd);
}

static void check_statfs(void)
{
	struct statfs sfs;

	CHECK(!statfs("/sys/fs/bpf", &sfs) && sfs.f_type == BPF_FS_MAGIC);
	CHECK(!statfs("/", &sfs) && sfs.f_type != BPF_FS_MAGIC);
}

static void check_bpffs(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pinned", 4, 4, 1, NULL), got;
	const char *pin = "/sys/fs/bpf/nsbpf-shim-test/map";

	CHECK(fd >= 0);
	CHECK(!mkdir("/sys/fs/bpf/nsbpf-shim-test", 0700));
	CHECK(!bpf_obj_pin(fd, pin));
	CHECK(!close(fd));
	got = bpf_obj_get(pin);
	CHECK(got >= 0);
	CHECK(rmdir("/sys/fs/bpf/nsbpf-shim-test") < 0 && errno == ENOTEMPTY);
	CHECK(!unlink(pin));
	CHECK(bpf_obj_get(pin) < 0 && errno == ENOENT);
	CHECK(!rmdir("/sys/fs/bpf/nsbpf-shim-test"));
	CHECK(!close(got));
}

static void check_probes(void)
{
	CHECK(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCKET_FILTER, NULL) == 1);
	CHECK(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) == 1);
	CHECK(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_HASH, NULL) == 1);
	CHECK(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_ARRAY, NULL) == 1);
}

/* The child works on the objects it inherited, the parent's own, as the kernel shares them. */
static void check_fork(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "m", 4, 8, 1, NULL), status, nfd;
	__u64 val = 7, out = 0;
	struct stat st, st2;
	__u32 key = 0;
	pid_t pid;

	CHECK(fd >= 0);
	CHECK(!bpf_map_update_elem(fd, &key, &val, BPF_ANY));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		CHECK(!bpf_map_lookup_elem(fd, &key, &out) && out == 7);
		val = 8;
		CHECK(!bpf_map_update_elem(fd, &key, &val, BPF_ANY));
		CHECK(!close(fd));
		CHECK(load_prog() >= 0);
		/*
		 * A namespace dropped in the child is torn down there: a second fork flushes
		 * the teardown (and must not hang), after which the next namespace gets the
		 * dropped one's inode number, the lowest free one.
		 */
		CHECK(!unshare(CLONE_NEWNET) && !stat("/proc/self/ns/net", &st));
		CHECK(!unshare(CLONE_NEWNET));
		pid = fork();
		CHECK(pid >= 0);
		if (!pid)
			_exit(0);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(!unshare(CLONE_NEWNET) && !stat("/proc/self/ns/net", &st2));
		CHECK(st2.st_ino == st.st_ino);
		nfd = open("/proc/self/ns/net", O_RDONLY);
		CHECK(nfd >= 0 && !close(nfd));
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* One map: the child's update is the parent's. */
	CHECK(!bpf_map_lookup_elem(fd, &key, &out) && out == 8);
	CHECK(!close(fd));
}

/* A socket filter that writes 0x1234 to ring buffer @rb_fd (bpf_ringbuf_output). */
static int load_ringbuf_prog(int rb_fd)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = 10, .off = -8, .imm = 0x1234 },
		{ .code = BPF_LD | BPF_IMM | BPF_DW, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = rb_fd },
		{},
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = 8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 4, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "shim_rb", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

/*
 * Mappings after fork: the child maps a map made before the fork and one of its own, and a ring
 * buffer a program writes to; what the child writes through its mapping the parent's sees.
 */
static void check_fork_mmap(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "shim_fm", 4, 8, 4, &opts), status;
	__u64 *pv, out = 0;
	__u32 key = 1;
	pid_t pid;

	CHECK(fd >= 0);
	pv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(pv != MAP_FAILED);
	pv[0] = 1;
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		unsigned char pkt[64] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt, .data_size_in = sizeof(pkt));
		__u64 *cv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), *nv;
		int nfd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "shim_fm2", 4, 8, 4, &opts);
		int rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "shim_rb", 0, 0, 4096, NULL), pfd;
		volatile __u64 *cons, *prod;
		char *data;

		CHECK(cv != MAP_FAILED && cv[0] == 1);
		cv[1] = 2;
		CHECK(nfd >= 0);
		nv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, nfd, 0);
		CHECK(nv != MAP_FAILED);
		nv[1] = 3;
		CHECK(!bpf_map_lookup_elem(nfd, &key, &out) && out == 3);
		CHECK(rb >= 0);
		cons = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rb, 0);
		prod = mmap(NULL, 4096 + 2 * 4096, PROT_READ, MAP_SHARED, rb, 4096);
		CHECK(cons != MAP_FAILED && prod != MAP_FAILED);
		/* only the consumer position may be written */
		CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rb, 4096) == MAP_FAILED &&
		      errno == EPERM);
		pfd = load_ringbuf_prog(rb);
		CHECK(pfd >= 0);
		CHECK(!bpf_prog_test_run_opts(pfd, &topts));
		/* one record: an 8-byte header, then the value; seen in both copies of the data */
		data = (char *)prod + 4096;
		CHECK(prod[0] == 16 && cons[0] == 0);
		CHECK(*(__u64 *)(data + 8) == 0x1234 && *(__u64 *)(data + 4096 + 8) == 0x1234);
		CHECK(!munmap(cv, 4096) && !munmap(nv, 4096));
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(pv[1] == 2);
	CHECK(!bpf_map_lookup_elem(fd, &key, &out) && out == 2);
	CHECK(!munmap(pv, 4096) && !close(fd));
}

/* Threads updating a map while the process forks: the fork waits for no call to finish. */
struct stress_thread {
	int map_fd;
	__u32 base;
	_Atomic int *stop;
	unsigned long done;
};

static void *stress_updates(void *arg)
{
	struct stress_thread *t = arg;
	__u64 val;
	__u32 key;

	while (!atomic_load(t->stop)) {
		key = t->base + (__u32)(t->done % 100);
		val = key;
		CHECK(!bpf_map_update_elem(t->map_fd, &key, &val, BPF_ANY));
		t->done++;
	}
	return NULL;
}

/* An sk_lookup program: SK_PASS. */
static int load_sk_lookup(void)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_SK_LOOKUP);
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SK_LOOKUP, "shim_sl", "GPL", insns, 2, &opts);
}

/*
 * Namespace teardown is deferred work: a namespace left by its last user goes on a worker
 * (the host's, in a process that forked), and its links become defunct only then. Waits up
 * to 10 s for that.
 */
static void check_ns_teardown_runs(void)
{
	struct bpf_link_info info;
	int home = open("/proc/self/ns/net", O_RDONLY), ns, prog = load_sk_lookup(), link, i;
	__u32 len;

	CHECK(home >= 0 && prog >= 0);
	CHECK(!unshare(CLONE_NEWNET));
	ns = open("/proc/self/ns/net", O_RDONLY);
	CHECK(ns >= 0);
	link = bpf_link_create(prog, ns, BPF_SK_LOOKUP, NULL);
	CHECK(link >= 0);
	CHECK(!setns(home, CLONE_NEWNET) && !close(ns));
	for (i = 0; i < 1000; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		CHECK(!bpf_obj_get_info_by_fd(link, &info, &len));
		if (!info.netns.netns_ino)
			break;
		usleep(10000);
	}
	CHECK(!info.netns.netns_ino);
	CHECK(!close(link) && !close(prog) && !close(home));
}

/*
 * Many processes on one runtime: threads keep updating a map while the process forks 16
 * children, each of which writes its own keys and exits, one of them killed in the middle of
 * its calls; every key of the children that finished is there, and the map goes when the last
 * fd anywhere is closed.
 */
static void check_fork_stress(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "shim_stress", 4, 8, 4096, &opts), status, i;
	struct stress_thread threads[2];
	pthread_t tids[2];
	_Atomic int stop = 0;
	pid_t pids[16];
	__u64 val;
	__u32 key, id;

	CHECK(fd >= 0);
	id = map_id(fd);
	for (i = 0; i < 2; i++) {
		threads[i] = (struct stress_thread){ fd, 100000u * (__u32)(i + 1), &stop, 0 };
		CHECK(!pthread_create(&tids[i], NULL, stress_updates, &threads[i]));
	}
	for (i = 0; i < 16; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (!pids[i]) {
			/* should the parent fail, this child (the one that never ends) goes too */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (key = (__u32)i * 1000; i == 7 || key < (__u32)i * 1000 + 100; key++) {
				val = key;
				CHECK(!bpf_map_update_elem(fd, &key, &val, BPF_ANY));
				if (key % 1000 == 999)
					key = (__u32)i * 1000; /* the one to be killed keeps going */
			}
			_exit(0);
		}
	}
	CHECK(!kill(pids[7], SIGKILL));
	for (i = 0; i < 16; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(i == 7 ? WIFSIGNALED(status) : WIFEXITED(status) && !WEXITSTATUS(status));
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++) {
		CHECK(!pthread_join(tids[i], NULL));
		CHECK(threads[i].done > 0);
	}
	for (i = 0; i < 16; i++) {
		for (key = (__u32)i * 1000; i != 7 && key < (__u32)i * 1000 + 100; key++)
			CHECK(!bpf_map_lookup_elem(fd, &key, &val) && val == key);
	}
	CHECK(!close(fd));
	errno = 0;
	CHECK(bpf_map_get_fd_by_id(id) < 0 && errno == ENOENT);
	check_ns_teardown_runs();
}

extern char **environ;

/* Runs @argv with NSBPF_HOST=@host added to our environment; stdout to @out_fd if >= 0. */
static pid_t spawn_with_host(char *const argv[], const char *host, int out_fd)
{
	char **env, var[64];
	posix_spawn_file_actions_t fa;
	size_t n = 0, i, j = 0;
	pid_t pid;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	CHECK(env);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "NSBPF_HOST=", 11))
			env[j++] = environ[i];
	snprintf(var, sizeof(var), "NSBPF_HOST=%s", host);
	env[j] = var;
	CHECK(!posix_spawn_file_actions_init(&fa));
	if (out_fd >= 0)
		CHECK(!posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO));
	CHECK(!posix_spawn(&pid, argv[0], &fa, NULL, argv, env));
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	return pid;
}

#define JOIN_PROG "/sys/fs/bpf/shim-join-prog"
#define JOIN_MAP "/sys/fs/bpf/shim-join-map"

/*
 * NSBPF_HOST: this process serves its runtime (the test runs it with NSBPF_HOST=serve), and a
 * process started afterwards, unrelated to it (posix_spawn, a new image), joins it with
 * NSBPF_HOST=<our pid>: it finds our pins and ids and writes to our map. If bpftool is
 * installed, it lists our program too.
 */
static void check_host_join(void)
{
	char self[PATH_MAX], pid_text[16], out[4096] = "";
	char *join_argv[] = { self, "join", NULL };
	char *tool_argv[] = { "/usr/sbin/bpftool", "prog", "show", "pinned", JOIN_PROG, NULL };
	const char *preload;
	int m, p, status, pipefd[2];
	__u64 val = 0;
	__u32 key = 1;
	ssize_t n, len = 0;
	pid_t pid;

	CHECK(getenv("NSBPF_HOST") && !strcmp(getenv("NSBPF_HOST"), "serve"));
	m = bpf_map_create(BPF_MAP_TYPE_HASH, "shim_join", 4, 8, 4, NULL);
	p = load_prog();
	CHECK(m >= 0 && p >= 0);
	CHECK(!bpf_obj_pin(p, JOIN_PROG) && !bpf_obj_pin(m, JOIN_MAP));
	CHECK(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
	snprintf(pid_text, sizeof(pid_text), "%d", (int)getpid());
	pid = spawn_with_host(join_argv, pid_text, -1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	CHECK(!bpf_map_lookup_elem(m, &key, &val) && val == 42);

	preload = getenv("LD_PRELOAD");
	if (!preload || !*preload || access(tool_argv[0], X_OK)) {
		printf("SKIP: bpftool part (%s)\n", preload && *preload ? "no /usr/sbin/bpftool"
									 : "not run under LD_PRELOAD");
		return;
	}
	CHECK(!pipe(pipefd));
	pid = spawn_with_host(tool_argv, pid_text, pipefd[1]);
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + len, sizeof(out) - 1 - (size_t)len)) > 0)
		len += n;
	close(pipefd[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	printf("bpftool prog show pinned %s:\n%s", JOIN_PROG, out);
	CHECK(strstr(out, "socket_filter") && strstr(out, "name shim_test"));
}

/* The joining side of check_host_join(), started by it with NSBPF_HOST=<its pid>. */
static void check_join(void)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), id = 0;
	int p = bpf_obj_get(JOIN_PROG), m = bpf_obj_get(JOIN_MAP);
	__u64 val = 42;
	__u32 key = 1;
	bool seen = false;

	CHECK(p >= 0 && m >= 0);
	CHECK(!bpf_obj_get_info_by_fd(p, &info, &len) && !strcmp(info.name, "shim_test"));
	while (!bpf_prog_get_next_id(id, &id))
		seen |= id == info.id;
	CHECK(seen);
	CHECK(!bpf_map_update_elem(m, &key, &val, BPF_ANY));
	CHECK(!close(p) && !close(m));
}

static const struct {
	const char *name;
	void (*fn)(void);
} checks[] = {
	{ "prog_load", check_prog_load },
	{ "map", check_map },
	{ "info", check_info },
	{ "fdinfo", check_fdinfo },
	{ "readlink", check_readlink },
	{ "close", check_close },
	{ "dup", check_dup },
	{ "netns", check_netns },
	{ "cgroup", check_cgroup },
	{ "statfs", check_statfs },
	{ "bpffs", check_bpffs },
	{ "probes", check_probes },
	{ "fork", check_fork },
	{ "mmap", check_mmap },
	{ "fork_mmap", check_fork_mmap },
	{ "host_join", check_host_join },
	{ "fork_stress", check_fork_stress },
	{ "join", check_join },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc == 2 && !strcmp(argv[1], "kernel")) {
		check_kernel();
		return 0;
	}
	/* "native CHECK": the same check on the kernel, as root, to show it expects what it does. */
	if (argc == 3 && !strcmp(argv[1], "native")) {
		int probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);

		if (getuid() != 0 || probe < 0) {
			printf("SKIP: native checks need root and a kernel that runs bpf() (%s)\n",
			       getuid() ? "not root" : strerror(errno));
			return 77;
		}
		close(probe);
		argv++;
	} else {
		CHECK(argc == 2);
		CHECK(getuid() != 0);
		deny_kernel_bpf();
	}
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (!strcmp(argv[1], checks[i].name)) {
			checks[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "unknown check %s\n", argv[1]);
	return 2;
}
