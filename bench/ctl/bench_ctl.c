// SPDX-License-Identifier: MIT
/*
 * bench_ctl.c - nsbpf-bench-ctl: control-plane operations per second on nsbpf and on the
 * live kernel, in one run.
 *
 * Three operations: BPF_PROG_LOAD of a 4-instruction socket filter and close() of its fd;
 * BPF_MAP_UPDATE_ELEM on a hash map (4-byte key, 8-byte value, keys cycling within
 * max_entries); a network namespace created and destroyed. Each runs on one of four
 * backends, one process each:
 *
 *   kernel  syscall(__NR_bpf), close() and unshare(CLONE_NEWNET) on the live kernel (root);
 *   inproc  nsbpf_sys_bpf(), nsbpf_fd_close() and nsbpf_task_unshare() on a runtime in this
 *           process;
 *   shim    the kernel backend's very code, with libnsbpf-preload.so in LD_PRELOAD answering
 *           those calls in-process;
 *   client  the same, in a process that has forked once first: the shim has handed its
 *           runtime to a host process, and every call is a request to that host (the path
 *           of any process that forked or received a bpf fd, and of its children).
 *
 * Without --backend the program is the driver: it runs each backend as a child (itself, by
 * /proc/self/exe), reads the result lines the child prints and prints one table with the
 * ratios nsbpf/kernel. --quick runs a few operations of each kind and checks that every one
 * succeeded; it times nothing that anyone should read, and it is what CTest runs.
 *
 * Destruction of a namespace is deferred work in both worlds (the kernel's cleanup_net on a
 * workqueue, the runtime's worker thread), so a batch is only over once everything it released
 * is gone: nsbpf_runtime_flush() in-process; the shim's fork handler, which flushes the runtime
 * before any fork, under the shim; and on the kernel, a probe that succeeds only when no
 * namespace created by the batch is still alive (see kernel_ns_drain()). A client cannot make
 * its host flush, so for it only the creation of namespaces is timed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

#ifndef NSBPF_BENCH_SHIM
#define NSBPF_BENCH_SHIM ""
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum backend { BK_KERNEL, BK_INPROC, BK_SHIM, BK_CLIENT, NR_BACKENDS };

static const char *const backend_names[NR_BACKENDS] = { "kernel", "inproc", "shim", "client" };
static const char *const backend_titles[NR_BACKENDS] = {
	"kernel (syscall(__NR_bpf), unshare(2) on Linux)",
	"in-process (nsbpf_sys_bpf(), nsbpf_task_unshare())",
	"shim (the kernel code path, served by libnsbpf-preload.so in-process)",
	"client (the kernel code path under the shim after a fork: served by the shim's host)",
};

static enum backend backend;
static bool quick;

/* In-process backend: one runtime, and the task whose namespace the netns op replaces. */
static struct nsbpf_runtime *rt;
static struct nsbpf_task *task;

/* Shown when an operation fails or is refused. */
static char why[256];

/* ---------------------------------------------------------------------------------------- */
/* The calls being timed, one switch each so that every backend runs the same loop. */

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	long ret;

	if (backend == BK_INPROC)
		return nsbpf_sys_bpf(rt, cmd, attr, sizeof(*attr));
	ret = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
	return ret < 0 ? -errno : ret;
}

static int fd_close(int fd)
{
	if (backend == BK_INPROC)
		return nsbpf_fd_close(rt, fd);
	return close(fd) ? -errno : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* prog load + close */

/* r0 = 0; r2 = 1; r0 += r2; exit: accepts 1 byte of every packet. */
static const struct bpf_insn filter[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 1 },
	{ .code = BPF_ALU64 | BPF_ADD | BPF_X, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_2 },
	{ .code = BPF_JMP | BPF_EXIT },
};
static union bpf_attr prog_attr;

static int prog_setup(void)
{
	memset(&prog_attr, 0, sizeof(prog_attr));
	prog_attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	prog_attr.insns = (uint64_t)(uintptr_t)filter;
	prog_attr.insn_cnt = ARRAY_SIZE(filter);
	prog_attr.license = (uint64_t)(uintptr_t) "GPL";
	return 0;
}

static long prog_run(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		long fd = sys_bpf(BPF_PROG_LOAD, &prog_attr);
		int err;

		if (fd < 0) {
			snprintf(why, sizeof(why), "BPF_PROG_LOAD: %s", strerror((int)-fd));
			return fd;
		}
		err = fd_close((int)fd);
		if (err) {
			snprintf(why, sizeof(why), "close: %s", strerror(-err));
			return err;
		}
	}
	return (long)n;
}

/* ---------------------------------------------------------------------------------------- */
/* hash map update */

#define MAP_ENTRIES 1024 /* a power of two: the key is i & (MAP_ENTRIES - 1) */

static int map_fd = -1;

static int map_setup(void)
{
	union bpf_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_HASH;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = MAP_ENTRIES;
	fd = sys_bpf(BPF_MAP_CREATE, &attr);
	if (fd < 0) {
		snprintf(why, sizeof(why), "BPF_MAP_CREATE: %s", strerror((int)-fd));
		return (int)fd;
	}
	map_fd = (int)fd;
	return 0;
}

static long map_run(uint64_t n)
{
	union bpf_attr attr;
	uint32_t key;
	uint64_t value;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	attr.flags = BPF_ANY;
	for (uint64_t i = 0; i < n; i++) {
		long err;

		key = (uint32_t)i & (MAP_ENTRIES - 1);
		value = i;
		err = sys_bpf(BPF_MAP_UPDATE_ELEM, &attr);
		if (err) {
			snprintf(why, sizeof(why), "BPF_MAP_UPDATE_ELEM: %s", strerror((int)-err));
			return err;
		}
	}
	return (long)n;
}

static void map_teardown(void)
{
	if (map_fd >= 0)
		fd_close(map_fd);
	map_fd = -1;
}

/* ---------------------------------------------------------------------------------------- */
/* network namespace create + destroy */

/*
 * The kernel frees a namespace in cleanup_net(), on a workqueue, after the last reference
 * went, and tells nobody when. It does give one count that follows it: the per-user-namespace
 * count of network namespaces behind the user.max_net_namespaces sysctl, which cleanup_net()
 * decrements. So the kernel backend works in a user namespace of its own, whose limit nobody
 * else shares: with the limit at 2, unshare(CLONE_NEWNET) succeeds only when the namespace
 * the process is in is the only one left (ENOSPC otherwise). That probe ends each batch.
 */
static int ns_limit_fd = -1;

static int set_ns_limit(unsigned long limit)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%lu\n", limit);

	if (pwrite(ns_limit_fd, buf, (size_t)len, 0) != len) {
		snprintf(why, sizeof(why), "writing user.max_net_namespaces: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static long kernel_ns_drain(void)
{
	const struct timespec pause = { .tv_nsec = 20000 };
	int err = set_ns_limit(2);

	if (err)
		return err;
	while (unshare(CLONE_NEWNET)) {
		if (errno != ENOSPC) {
			snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
			return -errno;
		}
		/* Leave the CPU to the kworker that is doing the work waited for. */
		nanosleep(&pause, NULL);
	}
	return set_ns_limit(1000000);
}

/*
 * Waits for the shim's runtime to tear down what was released: glibc's fork() runs the shim's
 * prepare handler, which waits for the runtime's workers to go idle (shim_fork_prepare()).
 * Not through fork() as the program resolves it, which is the shim's wrapper: that hands the
 * runtime to a host process first and leaves this process its client, so that every later
 * call of the "shim" backend would be a request to the host (the "client" backend). glibc's
 * own fork(), looked up in libc itself, still runs the atfork handlers.
 */
static int shim_ns_flush(void)
{
	static pid_t (*libc_fork)(void);
	int status;
	pid_t pid;

	if (!libc_fork) {
		void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);

		if (libc) {
			libc_fork = (pid_t(*)(void))dlsym(libc, "fork");
			dlclose(libc);
		}
		if (!libc_fork) {
			snprintf(why, sizeof(why), "libc's fork() not found");
			return -ENOSYS;
		}
	}
	pid = libc_fork();
	if (pid < 0) {
		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		return -errno;
	}
	if (!pid)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(why, sizeof(why), "fork to flush the shim: child failed");
		return -ECHILD;
	}
	return 0;
}

static int ns_setup(void)
{
	if (backend == BK_INPROC)
		return 0;
	if (backend == BK_KERNEL) {
		/*
		 * Irreversible: this process leaves the initial user namespace, so bpf() is
		 * refused to it from here on. The namespaces are therefore timed last.
		 */
		if (unshare(CLONE_NEWUSER)) {
			snprintf(why, sizeof(why), "unshare(CLONE_NEWUSER): %s", strerror(errno));
			return -errno;
		}
		ns_limit_fd = open("/proc/sys/user/max_net_namespaces", O_WRONLY | O_CLOEXEC);
		if (ns_limit_fd < 0) {
			snprintf(why, sizeof(why), "opening user.max_net_namespaces: %s",
				 strerror(errno));
			return -errno;
		}
		if (set_ns_limit(1000000))
			return -errno;
	}
	if (unshare(CLONE_NEWNET)) {
		snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* How long the last ns_run() took to create its namespaces, teardown not waited for. */
static uint64_t ns_create_ns;

static uint64_t now_ns(void);

static long ns_run(uint64_t n)
{
	uint64_t t0 = now_ns();
	long err = 0;

	for (uint64_t i = 0; i < n; i++) {
		if (backend == BK_INPROC)
			err = nsbpf_task_unshare(task, NSBPF_CLONE_NEWNET);
		else if (unshare(CLONE_NEWNET))
			err = -errno;
		if (err) {
			snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s",
				 strerror((int)-err));
			return err;
		}
	}
	ns_create_ns = now_ns() - t0;
	switch (backend) {
	case BK_INPROC:
		err = nsbpf_runtime_flush(rt);
		if (err)
			snprintf(why, sizeof(why), "nsbpf_runtime_flush: %s", strerror((int)-err));
		break;
	case BK_SHIM:
		err = shim_ns_flush();
		break;
	case BK_CLIENT:
		/* Teardown is the host's, and nothing a client sends waits for it. */
		break;
	case BK_KERNEL:
		/* The probe is one more namespace created, and one more destroyed. */
		err = kernel_ns_drain();
		n++;
		break;
	default:
		break;
	}
	return err ? err : (long)n;
}

/* ---------------------------------------------------------------------------------------- */
/* Timing */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct op {
	const char *name, *title;
	int (*setup)(void);
	long (*run)(uint64_t n); /* operations done, or -errno */
	void (*teardown)(void);
	uint64_t warmup;   /* operations before timing; they also size the batches */
	uint64_t batch_ns; /* aimed-for length of one batch */
	uint64_t max_per_batch;
	uint32_t batches;
	uint64_t quick_n;    /* operations per batch with --quick */
	double issue_kernel; /* the kernel's rate quoted in the issue, ops/s (0: none) */
	double target;	     /* nsbpf in-process / kernel aimed for */
};

/* In this order: the kernel backend cannot call bpf() after ns_setup(). */
static const struct op ops[] = {
	{ "prog", "prog load + close (4-insn socket filter)", prog_setup, prog_run, NULL, 2000,
	  25000000, 1000000, 15, 50, 85e3, 10 },
	{ "map", "hash map update (4 B key, 8 B value)", map_setup, map_run, map_teardown, 200000,
	  25000000, 100000000, 15, 2000, 3e6, 3 },
	{ "netns", "netns create + destroy", ns_setup, ns_run, NULL, 200, 100000000, 1000000, 9, 20,
	  0, 100 },
	/*
	 * Not an operation of its own: the creation loop of "netns" timed alone, for the
	 * issue's kernel figure, which is of creation only.
	 */
	{ "netns-create", "  create only (destroy not waited for)", NULL, NULL, NULL, 0, 0, 0, 0, 0,
	  2.4e3, 100 },
};

enum { NETNS = 2 }; /* ops[NETNS] */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (sorted in place); *spread gets the interquartile range over it. */
static double median(double *v, uint32_t n, double *spread)
{
	double m;

	qsort(v, n, sizeof(*v), cmp_double);
	m = n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*spread = m > 0 ? (v[(3 * n) / 4] - v[n / 4]) / m : 0;
	return m;
}

#define MAX_BATCHES 32

/* One timed call of op->run; ops/s in *rate. */
static long timed(const struct op *op, uint64_t n, double *rate)
{
	uint64_t t0 = now_ns();
	long done = op->run(n);
	uint64_t t1 = now_ns();

	if (done > 0)
		*rate = (double)done * 1e9 / (double)(t1 - t0 ? t1 - t0 : 1);
	return done;
}

/* Whether an error at setup means "not allowed here" rather than "broken". */
static bool refused(int err)
{
	return backend == BK_KERNEL &&
	       (err == -EPERM || err == -EACCES || err == -EINVAL || err == -ENOSPC);
}

/*
 * Prints "RESULT op ops/s spread batches per-batch total", "SKIP op reason" or
 * "FAIL op reason"; returns 1 on failure.
 */
static int measure(const struct op *op)
{
	uint32_t batches = quick ? 3 : op->batches;
	double rates[MAX_BATCHES], create_rates[MAX_BATCHES], rate = 0, spread;
	uint64_t n = quick ? op->quick_n : op->warmup, total = 0;
	long done;
	int err;

	why[0] = 0;
	err = op->setup();
	if (err) {
		printf("%s %s %s\n", refused(err) ? "SKIP" : "FAIL", op->name, why);
		return !refused(err);
	}
	done = timed(op, n, &rate);
	if (done < 0 && refused((int)done)) {
		/* The first call of all: the kernel will not do this for us here. */
		printf("SKIP %s %s\n", op->name, why);
		if (op->teardown)
			op->teardown();
		return 0;
	}
	if (done <= 0)
		goto fail;
	total += (uint64_t)done;
	/*
	 * A warm-up much shorter than a batch would size the batches from its fixed costs (the
	 * flush at the end of a netns batch): grow it until it is a good part of one.
	 */
	while (!quick && (double)done * 1e9 / rate < (double)op->batch_ns / 4 &&
	       n * 4 <= op->max_per_batch) {
		n *= 4;
		done = timed(op, n, &rate);
		if (done <= 0)
			goto fail;
		total += (uint64_t)done;
	}
	if (!quick) {
		n = (uint64_t)((double)op->batch_ns * rate / 1e9);
		n = n < 1 ? 1 : n > op->max_per_batch ? op->max_per_batch : n;
	}
	for (uint32_t b = 0; b < batches; b++) {
		done = timed(op, n, &rates[b]);
		if (done <= 0)
			goto fail;
		total += (uint64_t)done;
		create_rates[b] = (double)n * 1e9 / (double)(ns_create_ns ? ns_create_ns : 1);
	}
	if (op->teardown)
		op->teardown();
	rate = median(rates, batches, &spread);
	if (op->run == ns_run && backend == BK_CLIENT)
		printf("n/a %s destroy not waited for: a client cannot flush its host\n", op->name);
	else
		printf("RESULT %s %.1f %.4f %u %llu %llu\n", op->name, rate, spread, batches,
		       (unsigned long long)n, (unsigned long long)total);
	if (op->run == ns_run) {
		rate = median(create_rates, batches, &spread);
		printf("RESULT %s-create %.1f %.4f %u %llu %llu\n", op->name, rate, spread, batches,
		       (unsigned long long)n, (unsigned long long)(n * batches));
	}
	fflush(stdout);
	return 0;
fail:
	printf("FAIL %s %s\n", op->name, why[0] ? why : "no operation done");
	if (op->teardown)
		op->teardown();
	return 1;
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/*
 * The issue's headline figure: 100,000 namespaces created and destroyed, in time and peak
 * RSS. Done first, in a fresh process, so that ru_maxrss is this and nothing else; in-process
 * on a runtime of its own. Prints "NS100K count seconds peak-KiB baseline-KiB".
 */
static int ns_mass(uint64_t count)
{
	struct nsbpf_runtime *main_rt = rt;
	struct nsbpf_task *main_task = task;
	long base = maxrss_kib(), done;
	uint64_t t0, t1;
	int err = 0;

	why[0] = 0;
	if (backend == BK_INPROC) {
		err = nsbpf_runtime_new(NULL, &rt);
		if (!err && (err = nsbpf_task_new(rt, NULL, &task)))
			nsbpf_runtime_free(rt);
		if (err) {
			printf("FAIL ns100k runtime: %s\n", strerror(-err));
			rt = main_rt;
			return 1;
		}
	}
	t0 = now_ns();
	done = ns_run(count);
	t1 = now_ns();
	if (backend == BK_INPROC) {
		nsbpf_task_exit(task);
		nsbpf_runtime_free(rt);
		rt = main_rt;
		task = main_task;
	}
	if (done <= 0) {
		printf("FAIL ns100k %s\n", why);
		return 1;
	}
	printf("NS100K %llu %.4f %ld %ld\n", (unsigned long long)count, (double)(t1 - t0) / 1e9,
	       maxrss_kib(), base);
	fflush(stdout);
	return 0;
}

/* The library that libc's syscall() resolves to in this process. */
static const char *syscall_provider(void)
{
	Dl_info info;

	if (!dladdr((void *)syscall, &info) || !info.dli_fname)
		return "?";
	return info.dli_fname;
}

/*
 * Whether a bpf fd of this process is a socket: under the shim, it is one of a host's files
 * in a client and a dup of the runtime's eventfd in-process. -errno if no map could be made.
 */
static int bpf_fd_is_socket(void)
{
	union bpf_attr attr;
	struct stat st;
	int ret;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	fd = sys_bpf(BPF_MAP_CREATE, &attr);
	if (fd < 0)
		return (int)fd;
	ret = fstat((int)fd, &st) ? -errno : S_ISSOCK(st.st_mode);
	fd_close((int)fd);
	return ret;
}

/*
 * Makes this process a client of a host, as fork() under the shim makes any process that has
 * a runtime: the map made by bpf_fd_is_socket() makes the runtime exist (a process without
 * one forks plainly), then a fork through the shim's wrapper hands it to a new host.
 */
static int become_client(void)
{
	int status, ret = bpf_fd_is_socket();
	pid_t pid;

	if (ret < 0) {
		printf("FAIL setup BPF_MAP_CREATE: %s\n", strerror(-ret));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		printf("FAIL setup fork: %s\n", strerror(errno));
		return 1;
	}
	if (!pid)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("FAIL setup the forked child failed\n");
		return 1;
	}
	ret = bpf_fd_is_socket();
	if (ret != 1) {
		printf("FAIL setup %s%s\n", ret < 0 ? "BPF_MAP_CREATE as a client: " : "",
		       ret < 0 ? strerror(-ret) : "still in-process after fork(): no host serves");
		return 1;
	}
	return 0;
}

static int run_backend(void)
{
	bool shimmed = strstr(syscall_provider(), "nsbpf-preload") != NULL;
	int fail = 0, err;

	/* A shim backend that reached the kernel, or the reverse, would print wrong labels. */
	if (shimmed != (backend == BK_SHIM || backend == BK_CLIENT)) {
		printf("FAIL setup backend %s but syscall() comes from %s\n",
		       backend_names[backend], syscall_provider());
		return 1;
	}
	printf("# backend %s: %s\n", backend_names[backend], backend_titles[backend]);
	fflush(stdout);
	if (backend == BK_INPROC) {
		err = nsbpf_runtime_new(NULL, &rt);
		if (!err && (err = nsbpf_task_new(rt, NULL, &task)))
			nsbpf_runtime_free(rt);
		if (err) {
			printf("FAIL setup runtime: %s\n", strerror(-err));
			return 1;
		}
	}
	if (backend == BK_CLIENT && become_client())
		return 1;
	/* Not for a client: its host's teardown cannot be waited for. */
	if (backend == BK_INPROC || backend == BK_SHIM)
		fail |= ns_mass(quick ? 2000 : 100000);
	for (uint32_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (ops[i].run)
			fail |= measure(&ops[i]);
	/* Had anything made it a host's client, its figures would be the client's. */
	if (backend == BK_SHIM && bpf_fd_is_socket()) {
		printf("FAIL check the shim backend ended as a host's client, or without bpf()\n");
		fail = 1;
	}
	if (backend == BK_INPROC) {
		nsbpf_task_exit(task);
		nsbpf_runtime_free(rt);
	}
	return fail;
}

/* ---------------------------------------------------------------------------------------- */
/* Driver */

struct result {
	bool ran, have[ARRAY_SIZE(ops)];
	double rate[ARRAY_SIZE(ops)], spread[ARRAY_SIZE(ops)];
	char note[ARRAY_SIZE(ops)][128];
	bool have_mass;
	double mass_s;
	long mass_rss, mass_base;
	uint64_t mass_n;
};

static struct result results[NR_BACKENDS];

static void parse_line(struct result *r, char *line)
{
	char word[16], name[16];
	unsigned long long n;
	int pos = 0;

	if (sscanf(line, "%15s %15s %n", word, name, &pos) < 2)
		return;
	for (uint32_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (strcmp(name, ops[i].name))
			continue;
		if (!strcmp(word, "RESULT"))
			r->have[i] = sscanf(line + pos, "%lf %lf", &r->rate[i], &r->spread[i]) == 2;
		else
			snprintf(r->note[i], sizeof(r->note[i]), "%s", word);
	}
	if (!strcmp(word, "NS100K") && sscanf(line, "NS100K %llu %lf %ld %ld", &n, &r->mass_s,
					      &r->mass_rss, &r->mass_base) == 4) {
		r->have_mass = true;
		r->mass_n = n;
	}
}

/* Runs this program as backend @b; its result lines are echoed with the backend's name. */
static int run_child(const char *self, enum backend b, const char *shim)
{
	struct result *r = &results[b];
	char line[512];
	int pipefd[2], status;
	FILE *in;
	pid_t pid;

	fflush(stdout);
	if (pipe(pipefd))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		char *argv[] = { (char *)self, "--backend", (char *)backend_names[b],
				 quick ? "--quick" : NULL, NULL };

		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		if (shim) {
			setenv("LD_PRELOAD", shim, 1);
			/* A host named there would make the shim backend a client too. */
			unsetenv("NSBPF_HOST");
#ifdef NSBPF_SANITIZE
			/*
			 * libasan is loaded after the preloaded shim, and the shim's runtime is
			 * left to the OS at exit by design.
			 */
			setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
#endif
		} else {
			unsetenv("LD_PRELOAD");
		}
		execv(self, argv);
		_exit(127);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	if (!in)
		return 1;
	while (fgets(line, sizeof(line), in)) {
		printf("  %-6s| %s", backend_names[b], line);
		parse_line(r, line);
	}
	fclose(in);
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	r->ran = true;
	return !WIFEXITED(status) || WEXITSTATUS(status);
}

static void fmt_rate(char *buf, size_t size, double v)
{
	if (v >= 1e6)
		snprintf(buf, size, "%.2f M/s", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, size, "%.1f k/s", v / 1e3);
	else
		snprintf(buf, size, "%.0f /s", v);
}

static void print_cell(enum backend b, uint32_t i)
{
	const struct result *r = &results[b];
	char buf[32];

	if (r->have[i]) {
		fmt_rate(buf, sizeof(buf), r->rate[i]);
		printf(" %11s %4.1f |", buf, 50 * r->spread[i]);
	} else {
		printf(" %11s %4s |", !r->ran ? "not run" : r->note[i][0] ? r->note[i] : "-", "");
	}
}

static void print_ratio(enum backend b, uint32_t i)
{
	double v;

	if (!results[b].have[i] || !results[BK_KERNEL].have[i]) {
		printf(" %9s |", "n/a");
		return;
	}
	v = results[b].rate[i] / results[BK_KERNEL].rate[i];
	/* Below 1 (the client), one decimal would round the figure away. */
	if (v < 1)
		printf(" %8.2gx |", v);
	else
		printf(" %8.1fx |", v);
}

static void print_table(void)
{
	const struct result *k = &results[BK_KERNEL];

	printf("\n%s: ops/s, median of the batches; +-%% is half the interquartile range in %% "
	       "of the median\n",
	       quick ? "--quick (too short to mean anything)" : "Operations per second");
	printf("%-42s | %16s | %16s | %16s | %16s | %9s | %9s | %9s | %s\n", "operation",
	       "kernel      +-%", "in-process  +-%", "shim        +-%", "client      +-%",
	       "inproc/k", "shim/k", "client/k", "target (in-process)");
	for (uint32_t i = 0; i < ARRAY_SIZE(ops); i++) {
		const struct op *op = &ops[i];

		printf("%-42s |", op->title);
		for (enum backend b = BK_KERNEL; b < NR_BACKENDS; b++)
			print_cell(b, i);
		for (enum backend b = BK_INPROC; b < NR_BACKENDS; b++)
			print_ratio(b, i);
		if (results[BK_INPROC].have[i] && k->have[i] && !quick)
			printf(" >= %.0fx: %s\n", op->target,
			       results[BK_INPROC].rate[i] >= op->target * k->rate[i] ? "met"
										     : "NOT met");
		else
			printf(" >= %.0fx\n", op->target);
	}
	printf("kernel = raw syscalls on the live kernel; in-process = nsbpf_sys_bpf() and "
	       "nsbpf_task_unshare() on a runtime in the process; shim = the kernel backend's "
	       "code under LD_PRELOAD=libnsbpf-preload.so; client = the same in a process that "
	       "has forked once, whose calls go to the shim's host process (netns: creation "
	       "only).\n");
	printf("The issue's own kernel figures, for comparison:");
	for (uint32_t i = 0; i < ARRAY_SIZE(ops); i++) {
		char buf[32];

		if (!ops[i].issue_kernel)
			continue;
		fmt_rate(buf, sizeof(buf), ops[i].issue_kernel);
		printf(" %s %s;", ops[i].name, buf);
	}
	printf(" measured on another machine or day, not in this run.\n");

	for (enum backend b = BK_INPROC; b <= BK_SHIM; b++) {
		const struct result *r = &results[b];

		if (!r->have_mass)
			continue;
		printf("%llu namespaces created and destroyed, %-10s: %.3f s, %.0f/s, peak RSS "
		       "%.1f MiB (%.1f MiB before)",
		       (unsigned long long)r->mass_n, b == BK_INPROC ? "in-process" : "shim",
		       r->mass_s, (double)r->mass_n / r->mass_s, r->mass_rss / 1024.0,
		       r->mass_base / 1024.0);
		if (k->have[NETNS])
			printf("; the kernel at its create+destroy rate: %.1f s",
			       (double)r->mass_n / k->rate[NETNS]);
		printf("\n");
	}
	printf("target: 100,000 in under 2 s and under 1 GiB\n");
}

static int driver(const char *shim)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fail = 0;

	if (len <= 0)
		return 2;
	self[len] = 0;
	printf("nsbpf-bench-ctl: control-plane operations per second, kernel against nsbpf "
	       "in-process and under the shim (in-process and as a host's client)\n");
	fail |= run_child(self, BK_KERNEL, NULL);
	fail |= run_child(self, BK_INPROC, NULL);
	for (enum backend b = BK_SHIM; b <= BK_CLIENT; b++) {
		if (!shim[0] || access(shim, R_OK))
			printf("  %-6s| SKIP the preload shim is not %s\n", backend_names[b],
			       shim[0] ? "built yet" : "part of this build");
		else
			fail |= run_child(self, b, shim);
	}
	print_table();
	if (fail)
		printf("FAIL: an operation failed (see the lines above)\n");
	else if (quick)
		printf("every operation that ran succeeded\n");
	return fail;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--quick] [--backend kernel|inproc|shim|client] [--shim PATH]\n"
		"  Control-plane operations per second: nsbpf against the kernel.\n"
		"  --quick            a few operations of each kind; checks they all succeed\n"
		"  --backend NAME     one backend in this process, result lines only\n"
		"                     (shim, client: run with LD_PRELOAD=libnsbpf-preload.so)\n"
		"  --shim PATH        the preload shim for the driver (default: this build's)\n",
		argv0);
}

int main(int argc, char **argv)
{
	const char *shim = NSBPF_BENCH_SHIM;
	int which = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
			i++;
			for (int b = 0; b < NR_BACKENDS; b++)
				if (!strcmp(argv[i], backend_names[b]))
					which = b;
			if (which < 0) {
				usage(argv[0]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--shim") && i + 1 < argc) {
			shim = argv[++i];
		} else {
			usage(argv[0]);
			return 2;
		}
	}
	/* Lines reach the driver through a pipe: do not let them sit in a buffer on a crash. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (which < 0)
		return driver(shim);
	backend = (enum backend)which;
	return run_backend();
}
