// SPDX-License-Identifier: MIT
/*
 * fuzz_bpf.c - fuzz target for the bpf() dispatcher: each input is a sequence of commands
 * with attrs built from its bytes, run against a fresh runtime that is freed at the end, so
 * LeakSanitizer sees every object a command sequence fails to release. Pointer fields of
 * the attrs point into a small arena of real buffers (keys, values, programs from a few
 * templates, log and info buffers, paths, a BTF blob), or at NULL, a read-only page, a
 * PROT_NONE guard page, unmapped or kernel addresses, so the -EFAULT paths run as often as
 * the good ones; fd fields name fds earlier commands returned (open or already closed),
 * fds that were never the runtime's, or nothing. Beyond "no crash", the target checks what
 * the API promises: a result is an fd, 0 or a negative errno of the plausible range; an fd
 * returned is the runtime's; and once the runtime is freed, none of the fds it returned is
 * open and the process has exactly the fds it had before.
 *
 * Input layout: ops until the input ends (at most MAX_OPS), each starting with a byte op:
 *   op < 0xe0    a command, number op % 40 (36..39 are past the table), then
 *                  [mode] bits 0-2 size: 0-3 sizeof(union bpf_attr), 4 smaller (next byte),
 *                         5 larger with a zero tail, 6 larger with a non-zero tail, 7 past
 *                         a page; bits 3-4 where the attr lies: 0-1 the arena, 2 astride
 *                         the guard page, 3 NULL (bit 5 clear) or an unmapped address
 *                  [n]    n % 16 field writes into the attr, each [word] [kind] payload
 *                         (see write_field(); word is a 4-byte index into the attr)
 *   0xe0..0xe7   close fd number [idx] of the list of fds returned so far
 *   0xe8..0xeb   dup fd [idx] (fcntl F_DUPFD_CLOEXEC + nsbpf_fd_dup); the dup joins the list
 *   0xec         install an fd of the initial network namespace (joins the list)
 *   0xed         fdinfo and readlink of fd [idx]
 *   0xee         close fd [idx] behind the runtime's back, then nsbpf_fd_forget
 *   0xef         mkdir /sys/fs/bpf/d in bpffs
 *   0xf0..0xff   a command number from the next 4 bytes (negative, huge), attr as above
 * Bytes past the end read as zero. Fds still open at the end are closed with nsbpf_fd_close,
 * except when op bytes ran out on an odd count of ops: then nsbpf_runtime_free closes them.
 *
 * With NSBPF_FUZZ_BPF_SEEDS=DIR in the environment the first call writes the seed corpus
 * (corpus/bpf/) into DIR and exits: meaningful sequences the fuzzer starts from.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "nsbpf/bpf.h"
#include "nsbpf/runtime.h"

#define require(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_OPS	      48
#define MAX_FDS	      64
#define NR_CMDS	      40 /* the 6.1 table ends at BPF_PROG_BIND_MAP (35): a few past it */
#define ATTR_SIZE     sizeof(union bpf_attr)
#define MAP_BYTES_MAX (32u << 20)
#define ATTR_WORDS    40 /* field writes reach a little past the attr: CHECK_ATTR's tail */

/*
 * The arena: RW_PAGES read-write pages the input's pointers land in, then one read-only page
 * (copy_to_user faults, reads that run on into the guard), then a PROT_NONE guard page. It
 * lives for the process; its read-write part is reset before each input.
 */
#define RW_PAGES 4
enum {
	A_ATTR = 0,	/* the attr and its tail: ATTR_SIZE + 255 bytes and more */
	A_KEY = 1024,	/* 256 */
	A_VALUE = 1280, /* 1024 */
	A_OUT = 2304,	/* 2048: info, batch and test-run outputs */
	A_LOG = 4352,	/* 1024 */
	A_INSNS = 5376, /* 64 instructions */
	A_PATHS = 5888, /* NR_PATHS strings, 64 bytes apart */
	A_BTF = 6400,	/* 256 */
	A_NAME = 6656,	/* 64 */
};

static const char *const paths[] = {
	"/sys/fs/bpf/a",
	"/sys/fs/bpf/d/b",
	"/sys/fs/bpf/d",
	"/sys/fs/bpf",
	"/sys/fs/bpf/",
	"/tmp/x",
	"",
	"sys/fs/bpf/a",
	"/sys/fs/bpf/no/c",
};
#define NR_PATHS ARRAY_SIZE(paths)

/* A minimal BTF blob libbpf accepts: one 32-bit "int". */
static const uint8_t btf_blob[] = {
	0x9f, 0xeb, 1,	 0,   24, 0, 0, 0, /* magic, version, flags, hdr_len */
	0,    0,    0,	 0,   16, 0, 0, 0, /* type_off, type_len */
	16,   0,    0,	 0,   5,  0, 0, 0, /* str_off, str_len */
	1,    0,    0,	 0,   0,  0, 0, 1, /* name_off "int", info: BTF_KIND_INT */
	4,    0,    0,	 0,   32, 0, 0, 0, /* size 4, encoding: 32 bits */
	0,    'i',  'n', 't', 0,
};

#define I(CODE, DST, SRC, OFF, IMM)                                                                \
	{                                                                                          \
		.code = (CODE), .dst_reg = (DST), .src_reg = (SRC), .off = (OFF), .imm = (IMM)     \
	}
#define MAP_FD_SLOT (-1) /* ld_imm64 imm patched with an fd of the input */

/* Program templates; the input picks one and the fd its ld_imm64 map loads name. */
static const struct bpf_insn tmpl_ret0[] = {
	I(0xb7, 0, 0, 0, 0), /* r0 = 0 */
	I(0x95, 0, 0, 0, 0), /* exit */
};
static const struct bpf_insn tmpl_lookup[] = {
	I(0x7a, 10, 0, -8, 0),			       /* *(u64 *)(r10 - 8) = 0 */
	I(0x18, 1, BPF_PSEUDO_MAP_FD, 0, MAP_FD_SLOT), /* r1 = map */
	I(0x00, 0, 0, 0, 0),
	I(0xbf, 2, 10, 0, 0), /* r2 = r10 */
	I(0x07, 2, 0, 0, -8), /* r2 += -8 */
	I(0x85, 0, 0, 0, 1),  /* call map_lookup_elem */
	I(0xb7, 0, 0, 0, 0),  /* r0 = 0 */
	I(0x95, 0, 0, 0, 0),  /* exit */
};
static const struct bpf_insn tmpl_loop[] = {
	I(0xb7, 0, 0, 0, 0),   /* r0 = 0 */
	I(0x07, 0, 0, 0, 1),   /* r0 += 1 */
	I(0xa5, 0, 0, -2, 10), /* if r0 < 10 goto -2 */
	I(0x95, 0, 0, 0, 0),   /* exit */
};
static const struct bpf_insn tmpl_tail_call[] = {
	I(0xb7, 3, 0, 0, 0),			       /* r3 = 0 */
	I(0x18, 2, BPF_PSEUDO_MAP_FD, 0, MAP_FD_SLOT), /* r2 = prog array */
	I(0x00, 0, 0, 0, 0),
	I(0x85, 0, 0, 0, 12), /* call tail_call */
	I(0xb7, 0, 0, 0, 1),  /* r0 = 1 */
	I(0x95, 0, 0, 0, 0),  /* exit */
};
static const struct bpf_insn tmpl_bad_jump[] = {
	I(0x05, 0, 0, 5, 0), /* goto +5: out of the program */
	I(0x95, 0, 0, 0, 0), /* exit */
};

static const struct {
	const struct bpf_insn *insns;
	unsigned int nr;
} templates[] = {
	{ tmpl_ret0, ARRAY_SIZE(tmpl_ret0) },
	{ tmpl_lookup, ARRAY_SIZE(tmpl_lookup) },
	{ tmpl_loop, ARRAY_SIZE(tmpl_loop) },
	{ tmpl_tail_call, ARRAY_SIZE(tmpl_tail_call) },
	{ tmpl_bad_jump, ARRAY_SIZE(tmpl_bad_jump) },
};

/* Field write kinds. */
enum {
	K_U8,	  /* [v]: a small number */
	K_U32,	  /* [4 bytes] */
	K_U64,	  /* [8 bytes] */
	K_FD,	  /* [idx]: an fd of the list (open or closed) */
	K_BAD_FD, /* [sel]: -1, a number never used, stdin, a host file */
	K_PTR,	  /* [sel] [aux]: see pointer() */
	K_DATA,	  /* [area] [off] [len] [bytes]: write bytes into the arena, not the attr */
	K_CONST,  /* [sel]: an edge value (sizes, counts, flags) */
	NR_KINDS,
};

/* Pointer selectors of K_PTR. */
enum {
	P_KEY,
	P_VALUE,
	P_OUT,
	P_LOG,
	P_INSNS, /* aux % 8: template, aux / 8: which fd its map loads name */
	P_PATH,	 /* aux: which path */
	P_BTF,
	P_NAME,
	P_EDGE, /* aux + 1 bytes before the guard page, in the read-only page */
	P_RO,	/* the start of the read-only page */
	P_GUARD,
	P_NULL,
	P_LOW,	    /* unmapped, below mmap_min_addr */
	P_KERNEL,   /* above the user address space */
	P_TASK_END, /* straddles the top of the user address space */
	P_ATTR,	    /* the attr itself */
	P_KEY_OFF,  /* key + aux */
	P_OUT_OFF,  /* out + aux * 8 */
	NR_PTRS,
};

static uint8_t *arena, *ro_page, *guard;
static size_t page_size;
static int host_fd = -1; /* a file of the process that is not the runtime's */

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint8_t rd8(struct reader *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->p++;
}

static uint32_t rd32(struct reader *r)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)rd8(r) << (8 * i);
	return v;
}

/* The state of one input. */
struct run {
	struct nsbpf_runtime *rt;
	int fds[MAX_FDS];   /* every fd the runtime handed out, in order */
	bool open[MAX_FDS]; /* still open as far as the input knows */
	unsigned int nr_fds;
};

static int fd_at(const struct run *run, uint8_t idx)
{
	return run->nr_fds ? run->fds[idx % run->nr_fds] : -1;
}

static void add_fd(struct run *run, int fd)
{
	require(nsbpf_fd_owned(run->rt, fd));
	if (run->nr_fds == MAX_FDS) {
		/* no room to track it: close it now, the checks at the end need every fd */
		require(nsbpf_fd_close(run->rt, fd) == 0);
		return;
	}
	run->fds[run->nr_fds] = fd;
	run->open[run->nr_fds++] = true;
}

/*
 * The input's user memory is the arena, its read-only page and its guard page, nothing else:
 * a pointer made of half an arena address and half a random word can name any page of this
 * process (a thread's heap, a library), and a write the runtime does there, as the kernel
 * would into its caller's memory, corrupts the fuzzer itself. The runtime acts for a caller
 * whose memory is that window (the rest reads as unmapped); copies inside it still go through
 * the runtime's own fault handling, so the read-only and guard pages fault as before.
 */
static bool in_window(uint64_t addr, size_t len)
{
	uint64_t start = (uintptr_t)arena, end = (uintptr_t)(guard + page_size);

	return addr >= start && addr <= end && len <= end - addr;
}

static int window_read(void *ctx, void *dst, uint64_t src, size_t len)
{
	(void)ctx;
	return in_window(src, len) ? nsbpf_copy_from_user(dst, (void *)(uintptr_t)src, len)
				   : -EFAULT;
}

static int window_write(void *ctx, uint64_t dst, const void *src, size_t len)
{
	(void)ctx;
	return in_window(dst, len) ? nsbpf_copy_to_user((void *)(uintptr_t)dst, src, len)
				   : -EFAULT;
}

static long window_read_str(void *ctx, char *dst, uint64_t src, size_t count)
{
	uint64_t end = (uintptr_t)(guard + page_size);
	size_t n;
	long ret;

	(void)ctx;
	if (!in_window(src, 0) || src == end)
		return -EFAULT;
	n = count < end - src ? count : (size_t)(end - src);
	ret = nsbpf_strncpy_from_user(dst, (void *)(uintptr_t)src, n);
	/* no NUL before the window ends: the string runs into unmapped memory */
	return ret == (long)n && n < count ? -EFAULT : ret;
}

/* fds, the working directory and mappings are this process's own (NULL ops). */
static const struct nsbpf_caller_ops window_ops = {
	.read = window_read,
	.write = window_write,
	.read_str = window_read_str,
};
static const struct nsbpf_caller window_caller = { .ops = &window_ops };

static void init_once(void)
{
	if (arena)
		return;
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	arena = mmap(NULL, (RW_PAGES + 2) * page_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	require(arena != MAP_FAILED);
	ro_page = arena + RW_PAGES * page_size;
	guard = ro_page + page_size;
	/* the read-only page holds a valid path and program, so a read there can succeed */
	memset(ro_page, 0x41, page_size);
	strcpy((char *)ro_page, paths[0]);
	memcpy(ro_page + 64, tmpl_ret0, sizeof(tmpl_ret0));
	require(!mprotect(ro_page, page_size, PROT_READ));
	require(!mprotect(guard, page_size, PROT_NONE));
	host_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	require(host_fd >= 0);
}

static void reset_arena(void)
{
	memset(arena, 0, RW_PAGES * page_size);
	for (size_t i = 0; i < 256; i++)
		arena[A_KEY + i] = (uint8_t)i;
	for (size_t i = 0; i < NR_PATHS; i++)
		strcpy((char *)arena + A_PATHS + 64 * i, paths[i]);
	memcpy(arena + A_BTF, btf_blob, sizeof(btf_blob));
	strcpy((char *)arena + A_NAME, "fuzz_name");
}

static uint64_t pointer(struct run *run, struct reader *r)
{
	uint8_t sel = rd8(r) % NR_PTRS, aux = rd8(r);

	switch (sel) {
	case P_KEY:
		return (uintptr_t)(arena + A_KEY);
	case P_VALUE:
		return (uintptr_t)(arena + A_VALUE);
	case P_OUT:
		return (uintptr_t)(arena + A_OUT);
	case P_LOG:
		return (uintptr_t)(arena + A_LOG);
	case P_INSNS: {
		unsigned int t = (aux % 8) % ARRAY_SIZE(templates);
		struct bpf_insn *insns = (struct bpf_insn *)(arena + A_INSNS);

		memcpy(insns, templates[t].insns, templates[t].nr * sizeof(*insns));
		for (unsigned int i = 0; i < templates[t].nr; i++)
			if (insns[i].imm == MAP_FD_SLOT)
				insns[i].imm = fd_at(run, aux / 8);
		return (uintptr_t)insns;
	}
	case P_PATH:
		return (uintptr_t)(arena + A_PATHS + 64 * (aux % NR_PATHS));
	case P_BTF:
		return (uintptr_t)(arena + A_BTF);
	case P_NAME:
		return (uintptr_t)(arena + A_NAME);
	case P_EDGE:
		return (uintptr_t)(guard - aux - 1);
	case P_RO:
		return (uintptr_t)ro_page;
	case P_GUARD:
		return (uintptr_t)guard;
	case P_NULL:
		return 0;
	case P_LOW:
		return 0x1000 + aux;
	case P_KERNEL:
		return 0xffff888000000000ull + aux;
	case P_TASK_END:
		return 0x00007ffffffff000ull - aux - 1;
	case P_ATTR:
		return (uintptr_t)(arena + A_ATTR);
	case P_KEY_OFF:
		return (uintptr_t)(arena + A_KEY + aux);
	default:
		return (uintptr_t)(arena + A_OUT + (aux % 250) * 8);
	}
}

static const uint32_t edge_values[] = {
	0,
	1,
	2,
	4,
	8,
	16,
	32,
	64,
	255,
	256,
	4096,
	65536,
	0x7fffffff,
	0x80000000,
	0xffffffff,
	0xfffffffe,
	ATTR_SIZE,
	2,
	5,
	8, /* insn counts */
	BPF_F_NO_PREALLOC,
	BPF_F_RDONLY,
	BPF_F_WRONLY,
	BPF_F_RDONLY_PROG,
	BPF_F_WRONLY_PROG,
	BPF_F_MMAPABLE,
	BPF_F_LOCK,
	BPF_ANY,
	BPF_NOEXIST,
	BPF_EXIST,
};

/* One field write: into the attr at word @word, or for K_DATA into the arena. */
static void write_field(struct run *run, struct reader *r, uint8_t *attr)
{
	unsigned int word = rd8(r) % ATTR_WORDS;
	uint8_t *at = attr + 4 * word;
	uint32_t v32;
	uint64_t v64;

	switch (rd8(r) % NR_KINDS) {
	case K_U8:
		v32 = rd8(r);
		memcpy(at, &v32, 4);
		break;
	case K_U32:
		v32 = rd32(r);
		memcpy(at, &v32, 4);
		break;
	case K_U64:
		v64 = rd32(r);
		v64 |= (uint64_t)rd32(r) << 32;
		memcpy(at, &v64, 8);
		break;
	case K_FD:
		v32 = (uint32_t)fd_at(run, rd8(r));
		memcpy(at, &v32, 4);
		break;
	case K_BAD_FD: {
		static const int bad[] = { -1, 0, 1, 2, 1000000, 65535, -2 };
		uint8_t sel = rd8(r);

		v32 = (uint32_t)(sel % 8 == 7 ? host_fd : bad[sel % 8]);
		memcpy(at, &v32, 4);
		break;
	}
	case K_PTR:
		v64 = pointer(run, r);
		memcpy(at, &v64, 8);
		break;
	case K_DATA: {
		static const unsigned int areas[] = {
			A_KEY, A_VALUE, A_OUT, A_INSNS, A_NAME, A_BTF
		};
		unsigned int area = areas[rd8(r) % ARRAY_SIZE(areas)];
		unsigned int off = rd8(r), len = rd8(r) % 33;

		for (unsigned int i = 0; i < len; i++)
			arena[area + off + i] = rd8(r);
		break;
	}
	default:
		v32 = edge_values[rd8(r) % ARRAY_SIZE(edge_values)];
		memcpy(at, &v32, 4);
		break;
	}
}

static bool returns_fd(long cmd)
{
	switch (cmd) {
	case BPF_MAP_CREATE:
	case BPF_PROG_LOAD:
	case BPF_OBJ_GET:
	case BPF_PROG_GET_FD_BY_ID:
	case BPF_MAP_GET_FD_BY_ID:
	case BPF_BTF_LOAD:
	case BPF_BTF_GET_FD_BY_ID:
	case BPF_LINK_CREATE:
	case BPF_LINK_GET_FD_BY_ID:
	case BPF_ENABLE_STATS:
	case BPF_RAW_TRACEPOINT_OPEN:
	case BPF_ITER_CREATE:
		return true;
	default:
		return false;
	}
}

/* An errno the kernel's bpf() can return: the Linux errno range, and ENOTSUPP (524). */
static bool plausible_errno(long ret)
{
	return (ret < 0 && ret >= -133) || ret == -524;
}

static void do_command(struct run *run, struct reader *r, int cmd)
{
	uint8_t mode = rd8(r), *attr = arena + A_ATTR, *uattr = attr;
	unsigned int size = ATTR_SIZE, nr_writes;
	long ret;

	memset(attr, 0, 1024);
	switch (mode & 7) {
	case 4:
		size = rd8(r) % ATTR_SIZE;
		break;
	case 5:
		size = ATTR_SIZE + 1 + rd8(r);
		break;
	case 6:
		size = ATTR_SIZE + 1 + rd8(r);
		/* a non-zero byte past the struct: E2BIG (unless the write below clears it) */
		attr[size - 1] = 1;
		break;
	case 7:
		size = (unsigned int)page_size + 1 + rd8(r) * 64u;
		break;
	}
	nr_writes = rd8(r) % 16;
	for (unsigned int i = 0; i < nr_writes; i++)
		write_field(run, r, attr);

	/*
	 * A test run repeats up to 2^32 times, as the kernel's does (until a signal): bounded
	 * here, so an input runs in milliseconds.
	 */
	if (cmd == BPF_PROG_TEST_RUN) {
		union bpf_attr *a = (union bpf_attr *)attr;

		a->test.repeat %= 4;
	}
	/*
	 * Likewise a map whose entries are allocated up front (arrays, preallocated hashes)
	 * could be gigabytes; the kernel would take its time or hit the memcg limit. Bounded
	 * to MAP_BYTES_MAX, which leaves small maps and every size check's edge alone.
	 */
	if (cmd == BPF_MAP_CREATE) {
		union bpf_attr *a = (union bpf_attr *)attr;
		uint64_t entry = (uint64_t)a->key_size + a->value_size + 64;

		if ((uint64_t)a->max_entries * entry > MAP_BYTES_MAX)
			a->max_entries =
				(uint32_t)(MAP_BYTES_MAX / entry ? MAP_BYTES_MAX / entry : 1);
	}

	switch ((mode >> 3) & 3) {
	case 2:
		/* half in the read-only page, half in the guard: copy_from_user faults */
		uattr = guard - (size > page_size ? page_size : size) / 2;
		break;
	case 3:
		uattr = mode & 0x20 ? (uint8_t *)(uintptr_t)0x1000 : NULL;
		break;
	}

	ret = nsbpf_sys_bpf(run->rt, cmd, uattr, size);
	if (ret < 0) {
		if (!plausible_errno(ret)) {
			fprintf(stderr, "bpf(%d, size %u) = %ld\n", cmd, size, ret);
			require(plausible_errno(ret));
		}
		return;
	}
	if (!returns_fd(cmd)) {
		if (ret != 0)
			fprintf(stderr, "bpf(%d, size %u) = %ld\n", cmd, size, ret);
		require(ret == 0);
		return;
	}
	add_fd(run, (int)ret);
}

static void do_fd_op(struct run *run, struct reader *r, uint8_t op)
{
	struct nsbpf_net *net;
	char buf[512];
	unsigned int i;
	int fd, dup_fd;

	if (op == 0xec) {
		require(nsbpf_net_get_init(run->rt, &net) == 0);
		fd = nsbpf_fd_install_net(run->rt, net, rd8(r) & 1);
		nsbpf_net_put(net);
		require(fd >= 0);
		add_fd(run, fd);
		return;
	}
	if (op == 0xef) {
		int err = nsbpf_bpffs_mkdir(run->rt, "/sys/fs/bpf/d", 0700);

		require(err == 0 || err == -EEXIST);
		return;
	}
	if (!run->nr_fds)
		return;
	i = rd8(r) % run->nr_fds;
	fd = run->fds[i];
	if (op < 0xe8) {
		bool open = false;
		int err;

		/* a closed number may have been reused by a later fd: that one is closed now */
		for (unsigned int j = 0; j < run->nr_fds; j++) {
			if (run->fds[j] == fd) {
				open |= run->open[j];
				run->open[j] = false;
			}
		}
		err = nsbpf_fd_close(run->rt, fd);
		require(open ? err == 0 : err == -EBADF);
		return;
	}
	if (op < 0xec) {
		if (!run->open[i])
			return;
		dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		require(dup_fd >= 0);
		require(nsbpf_fd_dup(run->rt, fd, dup_fd, true) == 0);
		add_fd(run, dup_fd);
		return;
	}
	if (op == 0xed) {
		long n = nsbpf_fd_show_fdinfo(run->rt, fd, buf, sizeof(buf));

		require(run->open[i] ? n > 0 : n > 0 || n == -EBADF);
		n = nsbpf_fd_readlink(run->rt, fd, buf, sizeof(buf));
		require(run->open[i] ? n > 0 : n > 0 || n == -EBADF);
		return;
	}
	/* 0xee: the process closes the fd itself (close_range, exec) and tells the runtime */
	if (!run->open[i])
		return;
	require(close(fd) == 0);
	nsbpf_fd_forget(run->rt, fd);
	require(!nsbpf_fd_owned(run->rt, fd));
	for (unsigned int j = 0; j < run->nr_fds; j++)
		if (run->fds[j] == fd)
			run->open[j] = false;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	require(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void write_seeds(const char *dir);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	struct run run = { 0 };
	unsigned int nr_ops = 0;
	int fds_before;
	const char *seeds = getenv("NSBPF_FUZZ_BPF_SEEDS");

	if (seeds) {
		write_seeds(seeds);
		exit(0);
	}
	init_once();
	reset_arena();
	fds_before = count_open_fds();
	require(nsbpf_runtime_new(NULL, &run.rt) == 0);
	nsbpf_set_caller(&window_caller);

	while (r.left && nr_ops++ < MAX_OPS) {
		uint8_t op = rd8(&r);

		if (op < 0xe0)
			do_command(&run, &r, op % NR_CMDS);
		else if (op < 0xf0)
			do_fd_op(&run, &r, op);
		else
			do_command(&run, &r, (int)rd32(&r));
	}

	nsbpf_set_caller(NULL);
	if (!(nr_ops & 1))
		for (unsigned int i = 0; i < run.nr_fds; i++)
			if (run.open[i])
				nsbpf_fd_close(run.rt, run.fds[i]);
	nsbpf_runtime_free(run.rt);

	/* every fd the runtime handed out is gone with it, and nothing else was left open */
	for (unsigned int i = 0; i < run.nr_fds; i++) {
		errno = 0;
		if (fcntl(run.fds[i], F_GETFD) != -1 || errno != EBADF) {
			fprintf(stderr, "fd %d still open after nsbpf_runtime_free\n", run.fds[i]);
			require(0);
		}
	}
	require(count_open_fds() == fds_before);
	return 0;
}

/* ---- Seeds ----------------------------------------------------------------------------- */

/* An input under construction: ops with their field writes, in the layout above. */
struct seed {
	uint8_t buf[1024];
	size_t len;
	size_t nr_writes_at; /* where the current command's write count is */
};

static void put8(struct seed *s, unsigned int v)
{
	require(s->len < sizeof(s->buf));
	s->buf[s->len++] = (uint8_t)v;
}

static void put32(struct seed *s, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put8(s, (v >> (8 * i)) & 0xff);
}

/* A command with a full-size attr in the arena; field writes follow. */
static void cmd(struct seed *s, int nr)
{
	put8(s, (unsigned int)nr);
	put8(s, 0);
	s->nr_writes_at = s->len;
	put8(s, 0);
}

static void field(struct seed *s, size_t offset, unsigned int kind)
{
	require(offset % 4 == 0);
	s->buf[s->nr_writes_at]++;
	put8(s, (unsigned int)(offset / 4));
	put8(s, kind);
}

static void w32(struct seed *s, size_t offset, uint32_t v)
{
	field(s, offset, K_U32);
	put32(s, v);
}

static void wfd(struct seed *s, size_t offset, unsigned int idx)
{
	field(s, offset, K_FD);
	put8(s, idx);
}

static void wptr(struct seed *s, size_t offset, unsigned int sel, unsigned int aux)
{
	field(s, offset, K_PTR);
	put8(s, sel);
	put8(s, aux);
}

#define OFF(f) offsetof(union bpf_attr, f)

static void map_create(struct seed *s, uint32_t type, uint32_t key, uint32_t value, uint32_t max)
{
	cmd(s, BPF_MAP_CREATE);
	w32(s, OFF(map_type), type);
	w32(s, OFF(key_size), key);
	w32(s, OFF(value_size), value);
	w32(s, OFF(max_entries), max);
}

static void elem(struct seed *s, int nr, unsigned int fd_idx, uint32_t flags)
{
	cmd(s, nr);
	wfd(s, OFF(map_fd), fd_idx);
	wptr(s, OFF(key), P_KEY, 0);
	wptr(s, OFF(value), P_VALUE, 0);
	if (flags)
		w32(s, OFF(flags), flags);
}

static void prog_load(struct seed *s, uint32_t type, unsigned int tmpl, unsigned int map_idx)
{
	cmd(s, BPF_PROG_LOAD);
	w32(s, OFF(prog_type), type);
	wptr(s, OFF(insns), P_INSNS, tmpl + 8 * map_idx);
	w32(s, OFF(insn_cnt), templates[tmpl].nr);
	wptr(s, OFF(license), P_NAME, 0);
	wptr(s, OFF(log_buf), P_LOG, 0);
	w32(s, OFF(log_size), 1024);
	w32(s, OFF(log_level), 1);
}

static void info(struct seed *s, unsigned int fd_idx)
{
	cmd(s, BPF_OBJ_GET_INFO_BY_FD);
	wfd(s, OFF(info.bpf_fd), fd_idx);
	w32(s, OFF(info.info_len), 256);
	wptr(s, OFF(info.info), P_OUT, 0);
}

static void save(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	require(f && fwrite(s->buf, 1, s->len, f) == s->len && fclose(f) == 0);
}

static void write_seeds(const char *dir)
{
	struct seed s;

	/* a hash map: update, lookup, next key, delete, info */
	s = (struct seed){ 0 };
	map_create(&s, BPF_MAP_TYPE_HASH, 4, 8, 16);
	elem(&s, BPF_MAP_UPDATE_ELEM, 0, BPF_NOEXIST);
	elem(&s, BPF_MAP_LOOKUP_ELEM, 0, 0);
	elem(&s, BPF_MAP_GET_NEXT_KEY, 0, 0);
	info(&s, 0);
	elem(&s, BPF_MAP_DELETE_ELEM, 0, 0);
	put8(&s, 0xe0); /* close */
	put8(&s, 0);
	save(dir, "map_hash.bin", &s);

	/* an array: batch lookup, freeze */
	s = (struct seed){ 0 };
	map_create(&s, BPF_MAP_TYPE_ARRAY, 4, 16, 8);
	elem(&s, BPF_MAP_UPDATE_ELEM, 0, 0);
	cmd(&s, BPF_MAP_LOOKUP_BATCH);
	wfd(&s, OFF(batch.map_fd), 0);
	wptr(&s, OFF(batch.out_batch), P_OUT, 0);
	wptr(&s, OFF(batch.keys), P_OUT_OFF, 8);
	wptr(&s, OFF(batch.values), P_OUT_OFF, 40);
	wptr(&s, OFF(batch.count), P_OUT_OFF, 4);
	w32(&s, OFF(batch.count), 4); /* overwritten: the count lives in the attr */
	cmd(&s, BPF_MAP_FREEZE);
	wfd(&s, OFF(map_fd), 0);
	save(dir, "map_array.bin", &s);

	/* a program using a map, its info, a test run, a dup */
	s = (struct seed){ 0 };
	map_create(&s, BPF_MAP_TYPE_HASH, 8, 8, 4);
	prog_load(&s, BPF_PROG_TYPE_SOCKET_FILTER, 1, 0);
	info(&s, 1);
	cmd(&s, BPF_PROG_TEST_RUN);
	wfd(&s, OFF(test.prog_fd), 1);
	wptr(&s, OFF(test.data_in), P_VALUE, 0);
	w32(&s, OFF(test.data_size_in), 64);
	w32(&s, OFF(test.repeat), 2);
	put8(&s, 0xe8); /* dup the program */
	put8(&s, 1);
	put8(&s, 0xed); /* fdinfo of the dup */
	put8(&s, 2);
	save(dir, "prog_load.bin", &s);

	/* pins and gets, through a directory */
	s = (struct seed){ 0 };
	map_create(&s, BPF_MAP_TYPE_ARRAY, 4, 4, 1);
	put8(&s, 0xef); /* mkdir /sys/fs/bpf/d */
	cmd(&s, BPF_OBJ_PIN);
	wfd(&s, OFF(bpf_fd), 0);
	wptr(&s, OFF(pathname), P_PATH, 1);
	cmd(&s, BPF_OBJ_GET);
	wptr(&s, OFF(pathname), P_PATH, 1);
	cmd(&s, BPF_OBJ_GET);
	wptr(&s, OFF(pathname), P_PATH, 1);
	w32(&s, OFF(file_flags), BPF_F_RDONLY);
	elem(&s, BPF_MAP_UPDATE_ELEM, 2, 0); /* read-only fd: -EPERM */
	put8(&s, 0xe0);
	put8(&s, 0);
	save(dir, "pin_get.bin", &s);

	/* BTF, a map with it, ids back to fds */
	s = (struct seed){ 0 };
	cmd(&s, BPF_BTF_LOAD);
	wptr(&s, OFF(btf), P_BTF, 0);
	w32(&s, OFF(btf_size), sizeof(btf_blob));
	map_create(&s, BPF_MAP_TYPE_HASH, 4, 4, 4);
	wfd(&s, OFF(btf_fd), 0);
	w32(&s, OFF(btf_key_type_id), 1);
	w32(&s, OFF(btf_value_type_id), 1);
	cmd(&s, BPF_MAP_GET_NEXT_ID);
	cmd(&s, BPF_MAP_GET_FD_BY_ID);
	w32(&s, OFF(map_id), 1);
	cmd(&s, BPF_BTF_GET_FD_BY_ID);
	w32(&s, OFF(btf_id), 1);
	info(&s, 0);
	save(dir, "btf.bin", &s);

	/* a prog array and a tail call; a netns fd and an attach to it */
	s = (struct seed){ 0 };
	map_create(&s, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2);
	prog_load(&s, BPF_PROG_TYPE_SOCKET_FILTER, 3, 0);
	cmd(&s, BPF_MAP_UPDATE_ELEM);
	wfd(&s, OFF(map_fd), 0);
	wptr(&s, OFF(key), P_KEY_OFF, 0);
	/* the value is zeros, fd 0: not a program (the fuzzer finds the real fd's bytes) */
	wptr(&s, OFF(value), P_VALUE, 0);
	put8(&s, 0xec); /* an fd of init_net */
	prog_load(&s, BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 0);
	cmd(&s, BPF_PROG_ATTACH);
	wfd(&s, OFF(target_fd), 2);
	wfd(&s, OFF(attach_bpf_fd), 3);
	w32(&s, OFF(attach_type), BPF_FLOW_DISSECTOR);
	cmd(&s, BPF_PROG_QUERY);
	wfd(&s, OFF(query.target_fd), 2);
	w32(&s, OFF(query.attach_type), BPF_FLOW_DISSECTOR);
	wptr(&s, OFF(query.prog_ids), P_OUT, 0);
	w32(&s, OFF(query.prog_cnt), 4);
	cmd(&s, BPF_LINK_CREATE);
	wfd(&s, OFF(link_create.prog_fd), 3);
	wfd(&s, OFF(link_create.target_fd), 2);
	w32(&s, OFF(link_create.attach_type), BPF_FLOW_DISSECTOR);
	put8(&s, 0xee); /* closed behind the runtime's back */
	put8(&s, 0);
	save(dir, "attach.bin", &s);

	/* hostile attrs: faulting attr, faulting key, huge size, stats */
	s = (struct seed){ 0 };
	map_create(&s, BPF_MAP_TYPE_HASH, 4, 4, 4);
	put8(&s, BPF_MAP_LOOKUP_ELEM);
	put8(&s, 2 << 3); /* astride the guard page */
	put8(&s, 0);
	cmd(&s, BPF_MAP_UPDATE_ELEM);
	wfd(&s, OFF(map_fd), 0);
	wptr(&s, OFF(key), P_GUARD, 0);
	wptr(&s, OFF(value), P_VALUE, 0);
	cmd(&s, BPF_MAP_LOOKUP_ELEM);
	wfd(&s, OFF(map_fd), 0);
	wptr(&s, OFF(key), P_KEY, 0);
	wptr(&s, OFF(value), P_RO, 0);
	put8(&s, BPF_MAP_CREATE);
	put8(&s, 7); /* past a page: E2BIG */
	put8(&s, 0);
	put8(&s, 0);
	cmd(&s, BPF_ENABLE_STATS);
	w32(&s, OFF(enable_stats.type), BPF_STATS_RUN_TIME);
	save(dir, "hostile.bin", &s);
}
