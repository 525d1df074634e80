// SPDX-License-Identifier: MIT
/*
 * transcript.c - the printing side of the kdiff scenarios (see transcript.h).
 *
 * The rule for every value printed here: it is printed unless it differs legitimately between
 * the kernel and nsbpf, and each value left out carries a comment saying why. Leaving a value
 * out hides a class of bugs, so the list is short: time stamps and counters of time, memory
 * accounting, everything the JIT produces (the kernel JITs, nsbpf interprets), and the host's
 * inode and mount numbers of the anonymous inode behind every bpf fd. Ids and fd numbers are not
 * left out but renamed (see transcript.h), and the creating uid is printed relative to the
 * caller, because the native run is root and the shim's run is not.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/btf.h>

#include "transcript.h"

#define MAX_SYMS 256
#define MAX_FDS 4096

/* Symbolic names given so far: ids[kind][i] is the object named <letter><i+1>. */
static __u32 ids[TR_NR_KINDS][MAX_SYMS];
static unsigned int nr_ids[TR_NR_KINDS];
static const char id_letter[TR_NR_KINDS] = { 'P', 'M', 'L', 'B', 'N' };

/* fd_sym[fd] is n for an fd number printed as Fn, 0 if never printed. */
static unsigned int fd_sym[MAX_FDS];
static unsigned int nr_fd_syms;

static unsigned int nr_calls;
static char pin_dir[256];

/* A few rotating static buffers so that one printf can use several symbolic names. */
static char *scratch(void)
{
	static char bufs[8][64];
	static unsigned int next;

	return bufs[next++ % 8];
}

static const char *errno_name(int e)
{
	const char *name = strerrorname_np(e);
	char *buf;

	if (name)
		return name;
	/* Kernel-internal errnos that reach userspace from bpf(); glibc has no name for them. */
	if (e == 524)
		return "ENOTSUPP";
	buf = scratch();
	snprintf(buf, 64, "E%d", e);
	return buf;
}

void tr_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void print_call(const char *fmt, va_list ap)
{
	nr_calls++;
	vprintf(fmt, ap);
}

long tr_rc(long ret, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	print_call(fmt, ap);
	va_end(ap);
	if (ret < 0)
		printf(" = -1 %s\n", errno_name(e));
	else
		printf(" = %ld\n", ret);
	errno = e;
	return ret;
}

const char *tr_fdname(int fd)
{
	char *buf;

	if (fd < 0 || fd >= MAX_FDS) {
		buf = scratch();
		snprintf(buf, 64, "%d", fd);
		return buf;
	}
	if (!fd_sym[fd])
		fd_sym[fd] = ++nr_fd_syms;
	buf = scratch();
	snprintf(buf, 64, "F%u", fd_sym[fd]);
	return buf;
}

int tr_fd(int fd, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	print_call(fmt, ap);
	va_end(ap);
	if (fd < 0)
		printf(" = -1 %s\n", errno_name(e));
	else
		printf(" = %s\n", tr_fdname(fd));
	errno = e;
	return fd;
}

const char *tr_id(enum tr_kind kind, __u32 id)
{
	char *buf = scratch();
	unsigned int i;

	if (!id)
		return "0";
	for (i = 0; i < nr_ids[kind]; i++)
		if (ids[kind][i] == id)
			break;
	if (i == nr_ids[kind] && i < MAX_SYMS)
		ids[kind][nr_ids[kind]++] = id;
	if (i == MAX_SYMS)
		snprintf(buf, 64, "%c?", id_letter[kind]);
	else
		snprintf(buf, 64, "%c%u", id_letter[kind], i + 1);
	return buf;
}

bool tr_id_known(enum tr_kind kind, __u32 id)
{
	unsigned int i;

	for (i = 0; i < nr_ids[kind]; i++)
		if (ids[kind][i] == id)
			return true;
	return false;
}

__u32 tr_obj_id(enum tr_kind kind, int fd)
{
	/* The largest of the info structs; only the id is read, and it sits at the same offset
	 * (4) in prog, map and link info; BTF info has it at 12. */
	union {
		struct bpf_prog_info prog;
		struct bpf_map_info map;
		struct bpf_link_info link;
		struct bpf_btf_info btf;
	} info;
	__u32 len = sizeof(info);
	__u32 id;
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err) {
		tr_rc(err, "id(%s)", tr_fdname(fd));
		return 0;
	}
	id = kind == TR_BTF ? info.btf.id : info.prog.id;
	nr_calls++;
	printf("id(%s) = %s\n", tr_fdname(fd), tr_id(kind, id));
	return id;
}

static const char *const map_type_names[] = {
	[BPF_MAP_TYPE_UNSPEC] = "UNSPEC",
	[BPF_MAP_TYPE_HASH] = "HASH",
	[BPF_MAP_TYPE_ARRAY] = "ARRAY",
	[BPF_MAP_TYPE_PROG_ARRAY] = "PROG_ARRAY",
	[BPF_MAP_TYPE_PERF_EVENT_ARRAY] = "PERF_EVENT_ARRAY",
	[BPF_MAP_TYPE_PERCPU_HASH] = "PERCPU_HASH",
	[BPF_MAP_TYPE_PERCPU_ARRAY] = "PERCPU_ARRAY",
	[BPF_MAP_TYPE_STACK_TRACE] = "STACK_TRACE",
	[BPF_MAP_TYPE_CGROUP_ARRAY] = "CGROUP_ARRAY",
	[BPF_MAP_TYPE_LRU_HASH] = "LRU_HASH",
	[BPF_MAP_TYPE_LRU_PERCPU_HASH] = "LRU_PERCPU_HASH",
	[BPF_MAP_TYPE_LPM_TRIE] = "LPM_TRIE",
	[BPF_MAP_TYPE_ARRAY_OF_MAPS] = "ARRAY_OF_MAPS",
	[BPF_MAP_TYPE_HASH_OF_MAPS] = "HASH_OF_MAPS",
	[BPF_MAP_TYPE_RINGBUF] = "RINGBUF",
};

const char *tr_map_type(enum bpf_map_type type)
{
	char *buf;

	if ((size_t)type < sizeof(map_type_names) / sizeof(map_type_names[0]) &&
	    map_type_names[type])
		return map_type_names[type];
	buf = scratch();
	snprintf(buf, 64, "%u", type);
	return buf;
}

static void print_name(const char *what, const char *name, size_t len)
{
	printf("  %s = \"%.*s\"\n", what, (int)strnlen(name, len), name);
}

static const char *uid_name(__u32 uid)
{
	char *buf;

	/* Root natively, 65534 under the shim: both are "the caller". */
	if (uid == getuid())
		return "self";
	buf = scratch();
	snprintf(buf, 64, "%u", uid);
	return buf;
}

void tr_prog_info(int fd)
{
	struct bpf_prog_info info;
	struct bpf_insn insns[64];
	__u32 map_ids[8];
	__u32 len = sizeof(info), i, n;
	int err;

	memset(&info, 0, sizeof(info));
	memset(insns, 0, sizeof(insns));
	info.xlated_prog_len = sizeof(insns);
	info.xlated_prog_insns = (uintptr_t)insns;
	info.nr_map_ids = 8;
	info.map_ids = (uintptr_t)map_ids;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	tr_rc(err, "prog_info(%s)", tr_fdname(fd));
	if (err)
		return;
	tr_say("  type = %u", info.type);
	tr_say("  id = %s", tr_id(TR_PROG, info.id));
	printf("  tag = ");
	for (i = 0; i < BPF_TAG_SIZE; i++)
		printf("%02x", info.tag[i]);
	putchar('\n');
	/* jited_prog_len, jited_prog_insns, nr_jited_ksyms, nr_jited_func_lens, jited_ksyms,
	 * jited_func_lens, jited_line_info, nr_jited_line_info, jited_line_info_rec_size: left out,
	 * the kernel JITs and nsbpf interprets. */
	tr_say("  xlated_prog_len = %u", info.xlated_prog_len);
	n = info.xlated_prog_len / sizeof(struct bpf_insn);
	for (i = 0; i < n && i < 64; i++) {
		const struct bpf_insn *x = &insns[i];

		/* A helper call's immediate in the dump is the kernel's rewritten target, an
		 * address-derived value (0 where dumps are not allowed): only the opcode. */
		if (x->code == (BPF_JMP | BPF_CALL) && x->src_reg == 0)
			tr_say("  xlated[%u] = %02x call", i, x->code);
		else if (x->code == (BPF_LD | BPF_DW | BPF_IMM) &&
			 x->src_reg == BPF_PSEUDO_MAP_FD)
			/* A map reference is dumped with the map's id as immediate. */
			tr_say("  xlated[%u] = %02x %x %x ld_map %s", i, x->code, x->dst_reg,
			       x->src_reg, tr_id(TR_MAP, (__u32)x->imm));
		else
			tr_say("  xlated[%u] = %02x %x %x %d %d", i, x->code, x->dst_reg,
			       x->src_reg, x->off, x->imm);
	}
	/* load_time: nanoseconds since boot, differs between any two loads. */
	tr_say("  created_by_uid = %s", uid_name(info.created_by_uid));
	tr_say("  nr_map_ids = %u", info.nr_map_ids);
	for (i = 0; i < info.nr_map_ids && i < 8; i++)
		tr_say("  map_ids[%u] = %s", i, tr_id(TR_MAP, map_ids[i]));
	print_name("name", info.name, sizeof(info.name));
	tr_say("  ifindex = %u", info.ifindex);
	tr_say("  gpl_compatible = %u", info.gpl_compatible);
	tr_say("  netns_dev = %llu", (unsigned long long)info.netns_dev);
	tr_say("  netns_ino = %llu", (unsigned long long)info.netns_ino);
	tr_say("  btf_id = %s", tr_id(TR_BTF, info.btf_id));
	tr_say("  func_info_rec_size = %u", info.func_info_rec_size);
	tr_say("  nr_func_info = %u", info.nr_func_info);
	tr_say("  nr_line_info = %u", info.nr_line_info);
	tr_say("  line_info_rec_size = %u", info.line_info_rec_size);
	tr_say("  nr_prog_tags = %u", info.nr_prog_tags);
	/* run_time_ns: time. run_cnt is kept: it counts only while kernel.bpf_stats_enabled is
	 * set, and the scenarios never run their programs. */
	tr_say("  run_cnt = %llu", (unsigned long long)info.run_cnt);
	tr_say("  recursion_misses = %llu", (unsigned long long)info.recursion_misses);
	/* verified_insns is the kernel verifier's work count. It is deterministic and a program
	 * can read it, so it stays: a difference is a finding (or a deliberate difference to
	 * list in SPEC §6). */
	tr_say("  verified_insns = %u", info.verified_insns);
	tr_say("  attach_btf_obj_id = %s", tr_id(TR_BTF, info.attach_btf_obj_id));
	tr_say("  attach_btf_id = %u", info.attach_btf_id);
}

void tr_map_info(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int err;

	/* Every field of the map info is deterministic; none is left out. */
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	tr_rc(err, "map_info(%s)", tr_fdname(fd));
	if (err)
		return;
	tr_say("  type = %s", tr_map_type(info.type));
	tr_say("  id = %s", tr_id(TR_MAP, info.id));
	tr_say("  key_size = %u", info.key_size);
	tr_say("  value_size = %u", info.value_size);
	tr_say("  max_entries = %u", info.max_entries);
	tr_say("  map_flags = %#x", info.map_flags);
	print_name("name", info.name, sizeof(info.name));
	tr_say("  ifindex = %u", info.ifindex);
	tr_say("  btf_vmlinux_value_type_id = %u", info.btf_vmlinux_value_type_id);
	tr_say("  netns_dev = %llu", (unsigned long long)info.netns_dev);
	tr_say("  netns_ino = %llu", (unsigned long long)info.netns_ino);
	tr_say("  btf_id = %s", tr_id(TR_BTF, info.btf_id));
	tr_say("  btf_key_type_id = %u", info.btf_key_type_id);
	tr_say("  btf_value_type_id = %u", info.btf_value_type_id);
	tr_say("  map_extra = %#llx", (unsigned long long)info.map_extra);
}

void tr_btf_info(int fd)
{
	struct bpf_btf_info info;
	char data[256], name[64];
	__u32 len = sizeof(info);
	const void *blob;
	size_t size;
	int err;

	memset(&info, 0, sizeof(info));
	memset(name, 0, sizeof(name));
	info.btf = (uintptr_t)data;
	info.btf_size = sizeof(data);
	info.name = (uintptr_t)name;
	info.name_len = sizeof(name);
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	tr_rc(err, "btf_info(%s)", tr_fdname(fd));
	if (err)
		return;
	blob = tr_btf_blob(&size);
	tr_say("  btf_size = %u", info.btf_size);
	tr_say("  btf = %s", info.btf_size == size && !memcmp(data, blob, size) ?
				     "the blob loaded" : "OTHER");
	tr_say("  id = %s", tr_id(TR_BTF, info.id));
	print_name("name", name, sizeof(name));
	tr_say("  name_len = %u", info.name_len);
	tr_say("  kernel_btf = %u", info.kernel_btf);
}

/*
 * fdinfo values left out, each with its reason; the key itself is still printed, so a missing
 * or extra key is a difference.
 */
static const struct {
	const char *key;
	const char *why;
} fdinfo_excluded[] = {
	{ "mnt_id", "mount id of the host's anon_inodefs" },
	{ "ino", "inode number of the host's shared anon inode" },
	{ "prog_jited", "the kernel JITs, nsbpf interprets" },
	{ "owner_jited", "the kernel JITs, nsbpf interprets" },
	{ "memlock", "memory accounting of the implementation's allocations" },
	{ "run_time_ns", "time" },
};

/* fdinfo keys whose value is an object id. */
static const struct {
	const char *key;
	enum tr_kind kind;
} fdinfo_ids[] = {
	{ "prog_id", TR_PROG }, { "map_id", TR_MAP }, { "link_id", TR_LINK }, { "btf_id", TR_BTF },
	{ "netns_ino", TR_NETNS },
};

void tr_fdinfo(int fd)
{
	char path[64], line[512];
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	nr_calls++;
	if (!f) {
		printf("fdinfo(%s) = -1 %s\n", tr_fdname(fd), errno_name(errno));
		return;
	}
	printf("fdinfo(%s):\n", tr_fdname(fd));
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *value;
		bool done = false;

		line[strcspn(line, "\n")] = 0;
		if (!colon) {
			tr_say("  ? %s", line);
			continue;
		}
		*colon = 0;
		value = colon + 1 + strspn(colon + 1, " \t");
		for (i = 0; i < sizeof(fdinfo_excluded) / sizeof(fdinfo_excluded[0]); i++)
			if (!strcmp(line, fdinfo_excluded[i].key)) {
				tr_say("  %s: (left out: %s)", line, fdinfo_excluded[i].why);
				done = true;
			}
		for (i = 0; !done && i < sizeof(fdinfo_ids) / sizeof(fdinfo_ids[0]); i++)
			if (!strcmp(line, fdinfo_ids[i].key)) {
				tr_say("  %s: %s", line,
				       tr_id(fdinfo_ids[i].kind, strtoul(value, NULL, 10)));
				done = true;
			}
		if (!done)
			tr_say("  %s: %s", line, value);
	}
	fclose(f);
}

void tr_close(int fd)
{
	tr_rc(close(fd), "close(%s)", tr_fdname(fd));
}

long tr_sys_bpf(int cmd, void *attr, unsigned int size)
{
	return syscall(__NR_bpf, cmd, attr, size);
}

const char *tr_pin_dir(void)
{
	const char *root;

	if (pin_dir[0])
		return pin_dir;
	root = getenv("NSBPF_KDIFF_BPFFS");
	if (!root || !*root)
		root = "/sys/fs/bpf";
	snprintf(pin_dir, sizeof(pin_dir), "%s/kdiff_%d", root, (int)getpid());
	tr_rc(mkdir(pin_dir, 0700), "mkdir($PIN)");
	return pin_dir;
}

const char *tr_pin_path(const char *name)
{
	static char bufs[4][512];
	static unsigned int next;
	char *buf = bufs[next++ % 4];

	snprintf(buf, 512, "%s/%s", tr_pin_dir(), name);
	return buf;
}

void tr_pin_cleanup(void)
{
	struct dirent *de;
	DIR *d;

	if (!pin_dir[0])
		return;
	d = opendir(pin_dir);
	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	tr_rc(rmdir(pin_dir), "rmdir($PIN)");
	pin_dir[0] = 0;
}

/* BTF: header, one type (INT "int", 32 bits, signed), string section "\0int\0". */
static const struct {
	struct btf_header hdr;
	struct btf_type type;
	__u32 int_info;
	char strings[8];
} btf_blob = {
	.hdr = {
		.magic = BTF_MAGIC,
		.version = BTF_VERSION,
		.hdr_len = sizeof(struct btf_header),
		.type_off = 0,
		.type_len = sizeof(struct btf_type) + sizeof(__u32),
		.str_off = sizeof(struct btf_type) + sizeof(__u32),
		.str_len = 5,
	},
	.type = {
		.name_off = 1,
		.info = BTF_KIND_INT << 24,
		.size = 4,
	},
	.int_info = BTF_INT_SIGNED << 24 | 32,
	.strings = "\0int",
};

const void *tr_btf_blob(size_t *size)
{
	*size = sizeof(struct btf_header) + btf_blob.hdr.type_len + btf_blob.hdr.str_len;
	return &btf_blob;
}

static const char *flags_name(__u64 flags)
{
	static const char *const names[] = { "ANY", "NOEXIST", "EXIST", "3", "F_LOCK" };
	char *buf;

	if (flags < sizeof(names) / sizeof(names[0]))
		return names[flags];
	buf = scratch();
	snprintf(buf, 64, "%#llx", (unsigned long long)flags);
	return buf;
}

/*
 * Values go through buffers with room for one u64 per possible CPU: a per-CPU map reads and
 * writes that many, and a single u64 would be overrun (every CPU gets the same value).
 */
#define MAX_CPU_VALUES 1024

int tr_update(int fd, __u32 key, __u64 val, __u64 flags)
{
	static __u64 vals[MAX_CPU_VALUES];

	for (int i = 0; i < MAX_CPU_VALUES; i++)
		vals[i] = val;
	return tr_rc(bpf_map_update_elem(fd, &key, vals, flags), "update(%s, %u, %llu, %s)",
		     tr_fdname(fd), key, (unsigned long long)val, flags_name(flags));
}

static int print_value(int err, __u64 val, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	print_call(fmt, ap);
	va_end(ap);
	if (err)
		printf(" = -1 %s\n", errno_name(e));
	else
		printf(" = 0, value %llu\n", (unsigned long long)val);
	errno = e;
	return err;
}

int tr_lookup(int fd, __u32 key, __u64 *val)
{
	static __u64 v[MAX_CPU_VALUES];
	int err;

	v[0] = 0;
	err = bpf_map_lookup_elem(fd, &key, v);
	if (val)
		*val = v[0];
	return print_value(err, v[0], "lookup(%s, %u)", tr_fdname(fd), key);
}

int tr_delete(int fd, __u32 key)
{
	return tr_rc(bpf_map_delete_elem(fd, &key), "delete(%s, %u)", tr_fdname(fd), key);
}

int tr_lookup_and_delete(int fd, __u32 key)
{
	static __u64 v[MAX_CPU_VALUES];
	int err;

	v[0] = 0;
	err = bpf_map_lookup_and_delete_elem(fd, &key, v);
	return print_value(err, v[0], "lookup_and_delete(%s, %u)", tr_fdname(fd), key);
}

int tr_next_key(int fd, const __u32 *key, __u32 *next)
{
	int e, err = bpf_map_get_next_key(fd, key, next);
	char kbuf[16] = "NULL";

	e = errno;
	if (key)
		snprintf(kbuf, sizeof(kbuf), "%u", *key);
	nr_calls++;
	if (err)
		printf("get_next_key(%s, %s) = -1 %s\n", tr_fdname(fd), kbuf, errno_name(e));
	else
		printf("get_next_key(%s, %s) = 0, next %u\n", tr_fdname(fd), kbuf, *next);
	errno = e;
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

void tr_keys(int fd, bool sort_keys)
{
	__u32 keys[256], key;
	unsigned int n = 0, i;
	int err, e;

	err = bpf_map_get_next_key(fd, NULL, &key);
	while (!err && n < 256) {
		keys[n++] = key;
		err = bpf_map_get_next_key(fd, &keys[n - 1], &key);
	}
	e = errno;
	if (sort_keys)
		qsort(keys, n, sizeof(keys[0]), cmp_u32);
	nr_calls++;
	printf("keys(%s) = {", tr_fdname(fd));
	for (i = 0; i < n; i++)
		printf(i ? ", %u" : "%u", keys[i]);
	printf("}%s, walk ends %s\n", sort_keys ? " sorted" : "", err ? errno_name(e) : "early");
}

void tr_begin(const char *scenario)
{
	cpu_set_t set;
	int fd, cpu;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Per-cpu state (percpu values, the LRU's per-cpu lists) is then the same in every run. */
	if (!sched_getaffinity(0, sizeof(set), &set)) {
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
			;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	/* The probe is not part of the transcript: only whether bpf() works at all. */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0 && (errno == EPERM || errno == EACCES || errno == ENOSYS)) {
		fprintf(stderr, "SKIP: bpf(BPF_MAP_CREATE) refused: %s\n", errno_name(errno));
		exit(77);
	}
	if (fd >= 0)
		close(fd);
	printf("# kdiff scenario %s\n", scenario);
}

int tr_end(void)
{
	printf("# end: %u calls\n", nr_calls);
	return 0;
}
