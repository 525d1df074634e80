// SPDX-License-Identifier: MIT
/*
 * helpers.c - the helper functions programs call (kernel/bpf/helpers.c and the helper parts
 * of kernel/trace/bpf_trace.c), and the helper table of each program type.
 *
 * A helper receives r1..r5 as the program set them. Without a verifier nothing proves that
 * an argument is what the helper's prototype says, so each helper checks its arguments at
 * run time: a map argument must be one of the maps the running program refers to (or an
 * inner map a lookup of this run handed out), and memory the program passes must lie in
 * its regions (nsbpf_vm_run_check_access). A bad argument stops the run with -EINVAL or
 * -EFAULT where the kernel would have rejected the program at load. Memory a helper hands
 * to the program (a map value, a ring buffer sample) is granted for the rest of the run.
 *
 * Map operations go through the map layer's data-path ops (map.h) under the RCU read lock
 * bpf_prog_run() holds. Tail calls are resolved here for the VM (bpf_tail_call_target).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prog.h"

#define MAX_BPRINTF_BUF	 1024 /* the kernel's bound on one bpf_trace_printk message */
#define TRACE_LOG_MAX	 (1u << 20)
#define MAX_TRACE_ARGS	 3

typedef uint64_t u64;

static struct bpf_run_ctx *run_ctx(struct nsbpf_vm_run *run)
{
	return run->user;
}

/* Whether @map is a map the running program may pass to helpers. */
static struct bpf_map *map_arg(struct nsbpf_vm_run *run, u64 arg)
{
	struct bpf_run_ctx *rc = run_ctx(run);
	struct bpf_map *map = (struct bpf_map *)(uintptr_t)arg;

	if (bpf_prog_uses_map(rc->prog, map))
		return map;
	for (uint32_t i = 0; i < rc->nr_inner_maps; i++)
		if (rc->inner_maps[i] == map)
			return map;
	nsbpf_vm_run_fail(run, -EINVAL, "helper argument 0x%" PRIx64 " is not a map of the program",
			  arg);
	return NULL;
}

static bool mem_arg(struct nsbpf_vm_run *run, u64 addr, u64 len, uint32_t flags)
{
	if (!nsbpf_vm_run_check_access(run, (uintptr_t)addr, len, flags))
		return true;
	nsbpf_vm_run_fail(run, -EFAULT, "helper argument 0x%" PRIx64 " (%" PRIu64
			  " bytes) is not memory of the program", addr, len);
	return false;
}

/* Grants the program @len bytes at @p for the rest of the run (once). */
static bool grant(struct nsbpf_vm_run *run, const void *p, u64 len, uint32_t flags)
{
	if (!nsbpf_vm_run_check_access(run, (uintptr_t)p, len, flags))
		return true;
	if (!nsbpf_vm_run_add_region(run, p, len, flags))
		return true;
	nsbpf_vm_run_fail(run, -E2BIG, "too many memory regions in one run");
	return false;
}

/* ---- Maps ----------------------------------------------------------------------------- */

static u64 bpf_map_lookup_elem(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	struct bpf_map *map = map_arg(run, r1);
	struct bpf_run_ctx *rc = run_ctx(run);
	void *value;

	(void)r3, (void)r4, (void)r5;
	if (!map || !mem_arg(run, r2, map->key_size, NSBPF_VM_READ))
		return 0;
	if (!map->ops->map_lookup_elem || map->map_type == BPF_MAP_TYPE_PROG_ARRAY)
		return 0;
	value = map->ops->map_lookup_elem(map, (const void *)(uintptr_t)r2);
	if (!value)
		return 0;
	if (map->inner_map_meta) {
		/* map-in-map: the value is the inner map, usable as a map argument */
		if (rc->nr_inner_maps < BPF_RUN_MAX_INNER_MAPS)
			rc->inner_maps[rc->nr_inner_maps++] = value;
		return (uintptr_t)value;
	}
	if (!grant(run, value, map->value_size,
		   (map->map_flags & BPF_F_RDONLY_PROG) ? NSBPF_VM_READ : NSBPF_VM_RW))
		return 0;
	return (uintptr_t)value;
}

static u64 bpf_map_update_elem(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	struct bpf_map *map = map_arg(run, r1);

	(void)r5;
	if (!map || !mem_arg(run, r2, map->key_size, NSBPF_VM_READ) ||
	    !mem_arg(run, r3, map->value_size, NSBPF_VM_READ))
		return (u64)-EFAULT;
	if (!map->ops->map_update_elem || bpf_map_is_fd_map(map))
		return (u64)-EINVAL;
	return (u64)map->ops->map_update_elem(map, (const void *)(uintptr_t)r2,
					      (const void *)(uintptr_t)r3, r4);
}

static u64 bpf_map_delete_elem(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	struct bpf_map *map = map_arg(run, r1);

	(void)r3, (void)r4, (void)r5;
	if (!map || !mem_arg(run, r2, map->key_size, NSBPF_VM_READ))
		return (u64)-EFAULT;
	if (!map->ops->map_delete_elem || bpf_map_is_fd_map(map))
		return (u64)-EINVAL;
	return (u64)map->ops->map_delete_elem(map, (const void *)(uintptr_t)r2);
}

/* ---- Time, randomness, CPU, task ------------------------------------------------------ */

static u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

static u64 bpf_ktime_get_ns(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	return clock_ns(CLOCK_MONOTONIC);
}

static u64 bpf_ktime_get_boot_ns(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				 struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	return clock_ns(CLOCK_BOOTTIME);
}

static u64 bpf_get_prandom_u32(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	/* per-thread xorshift64*, as the kernel's per-CPU prandom state */
	static _Thread_local u64 state;

	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	if (!state)
		state = clock_ns(CLOCK_MONOTONIC) ^ (uintptr_t)&state ^ 0x9e3779b97f4a7c15ull;
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (uint32_t)((state * 0x2545f4914f6cdd1dull) >> 32);
}

static u64 bpf_get_smp_processor_id(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				    struct nsbpf_vm_run *run)
{
	int cpu = sched_getcpu();

	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	return cpu < 0 ? 0 : (u64)cpu;
}

static u64 bpf_get_current_pid_tgid(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				    struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	return (u64)(uint32_t)getpid() << 32 | (uint32_t)gettid();
}

static u64 bpf_get_current_uid_gid(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				   struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	return (u64)getgid() << 32 | getuid();
}

/* ---- bpf_trace_printk ----------------------------------------------------------------- */

/* A string argument of %s: read from program memory up to the buffer's end or the NUL. */
static void copy_prog_string(struct nsbpf_vm_run *run, u64 addr, char *dst, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++) {
		if (nsbpf_vm_run_check_access(run, (uintptr_t)addr + i, 1, NSBPF_VM_READ))
			break; /* the kernel prints what it could read, here nothing more */
		dst[i] = *(const char *)(uintptr_t)(addr + i);
		if (!dst[i])
			return;
	}
	dst[i] = 0;
}

/*
 * bpf_bprintf_prepare + bstr_printf: the kernel's subset of printf (%d %i %u %x %X with l/ll,
 * %p, %s, %c, %%) with at most three arguments. -EINVAL for anything else.
 */
static int bpf_bprintf(struct nsbpf_vm_run *run, const char *fmt, const u64 args[MAX_TRACE_ARGS],
		       char *out, size_t size)
{
	size_t len = 0;
	int nr_args = 0;

	for (const char *p = fmt; *p; p++) {
		char spec[8] = "%", str[MAX_BPRINTF_BUF];
		int lcount = 0, n;
		u64 arg;

		if (*p != '%') {
			if (len + 1 < size)
				out[len++] = *p;
			continue;
		}
		p++;
		if (*p == '%') {
			if (len + 1 < size)
				out[len++] = '%';
			continue;
		}
		if (nr_args >= MAX_TRACE_ARGS)
			return -EINVAL;
		arg = args[nr_args++];
		while (*p == 'l' && lcount < 2) {
			lcount++;
			p++;
		}
		switch (*p) {
		case 'd':
		case 'i':
			n = snprintf(out + len, size - len, "%lld",
				     lcount ? (long long)arg : (long long)(int32_t)arg);
			break;
		case 'u':
		case 'x':
		case 'X':
			strcpy(spec + 1, "ll");
			spec[3] = *p;
			spec[4] = 0;
			n = snprintf(out + len, size - len, spec,
				     lcount ? (unsigned long long)arg : (unsigned long long)(uint32_t)arg);
			break;
		case 'p':
			if (lcount)
				return -EINVAL;
			n = snprintf(out + len, size - len, "%016llx", (unsigned long long)arg);
			break;
		case 's':
			if (lcount)
				return -EINVAL;
			copy_prog_string(run, arg, str, sizeof(str));
			n = snprintf(out + len, size - len, "%s", str);
			break;
		case 'c':
			if (lcount)
				return -EINVAL;
			n = snprintf(out + len, size - len, "%c", (char)arg);
			break;
		default:
			return -EINVAL;
		}
		if (n > 0)
			len = len + (size_t)n < size ? len + (size_t)n : size - 1;
	}
	out[len] = 0;
	return (int)len;
}

/* Appends one trace_pipe line; the oldest half goes when the log is full, as a ring would. */
static void trace_log_append(struct bpf_state *st, const char *msg)
{
	char line[MAX_BPRINTF_BUF + 128];
	u64 now = clock_ns(CLOCK_MONOTONIC);
	size_t n;
	int cpu = sched_getcpu();
	char *log;

	n = (size_t)snprintf(line, sizeof(line), "%16.16s-%-7d [%03d] d..31 %5llu.%06llu: "
				     "bpf_trace_printk: %s",
			     program_invocation_short_name, getpid(), cpu < 0 ? 0 : cpu,
			     (unsigned long long)(now / 1000000000ull),
			     (unsigned long long)(now % 1000000000ull / 1000), msg);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;

	pthread_mutex_lock(&st->trace_lock);
	if (st->trace_log_len + n > TRACE_LOG_MAX) {
		size_t drop = st->trace_log_len / 2;

		memmove(st->trace_log, st->trace_log + drop, st->trace_log_len - drop);
		st->trace_log_len -= drop;
	}
	log = realloc(st->trace_log, st->trace_log_len + n + 1);
	if (log) {
		memcpy(log + st->trace_log_len, line, n + 1);
		st->trace_log = log;
		st->trace_log_len += n;
	}
	pthread_mutex_unlock(&st->trace_lock);
}

static u64 bpf_trace_printk(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	const char *fmt = (const char *)(uintptr_t)r1;
	const u64 args[MAX_TRACE_ARGS] = { r3, r4, r5 };
	char buf[MAX_BPRINTF_BUF];
	int len;

	if (!r2 || !mem_arg(run, r1, r2, NSBPF_VM_READ))
		return (u64)-EINVAL;
	if (fmt[r2 - 1]) /* the format must end within fmt_size */
		return (u64)-EINVAL;
	len = bpf_bprintf(run, fmt, args, buf, sizeof(buf));
	if (len < 0)
		return (u64)(int64_t)len;
	trace_log_append(bpf_run_prog(run)->st, buf);
	return (u64)len;
}

/* ---- Ring buffer ---------------------------------------------------------------------- */

static u64 bpf_ringbuf_output_helper(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				     struct nsbpf_vm_run *run)
{
	struct bpf_map *map = map_arg(run, r1);

	(void)r5;
	if (!map || !mem_arg(run, r2, r3, NSBPF_VM_READ))
		return (u64)-EFAULT;
	if (map->map_type != BPF_MAP_TYPE_RINGBUF)
		return (u64)-EINVAL;
	return (u64)bpf_ringbuf_output(map, (const void *)(uintptr_t)r2, r3, r4);
}

static u64 bpf_ringbuf_reserve_helper(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				      struct nsbpf_vm_run *run)
{
	struct bpf_map *map = map_arg(run, r1);
	struct bpf_run_ctx *rc = run_ctx(run);
	void *sample;

	(void)r4, (void)r5;
	if (!map || map->map_type != BPF_MAP_TYPE_RINGBUF ||
	    rc->nr_reserved >= BPF_RUN_MAX_RESERVED)
		return 0;
	sample = bpf_ringbuf_reserve(map, r2, r3);
	if (!sample)
		return 0;
	rc->reserved[rc->nr_reserved].sample = sample;
	rc->reserved[rc->nr_reserved].map = map;
	rc->nr_reserved++;
	if (!grant(run, sample, r2, NSBPF_VM_RW))
		return 0;
	return (uintptr_t)sample;
}

/* The map a sample was reserved from, forgetting the reservation; NULL if none. */
static struct bpf_map *take_reserved(struct nsbpf_vm_run *run, u64 sample)
{
	struct bpf_run_ctx *rc = run_ctx(run);

	for (uint32_t i = 0; i < rc->nr_reserved; i++) {
		struct bpf_map *map = rc->reserved[i].map;

		if ((uintptr_t)rc->reserved[i].sample != sample)
			continue;
		rc->reserved[i] = rc->reserved[--rc->nr_reserved];
		return map;
	}
	nsbpf_vm_run_fail(run, -EINVAL, "0x%" PRIx64 " is not a reserved ring buffer sample", sample);
	return NULL;
}

static u64 bpf_ringbuf_submit_helper(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				     struct nsbpf_vm_run *run)
{
	struct bpf_map *map = take_reserved(run, r1);

	(void)r3, (void)r4, (void)r5;
	if (map)
		bpf_ringbuf_submit(map, (void *)(uintptr_t)r1, r2);
	return 0;
}

static u64 bpf_ringbuf_discard_helper(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				      struct nsbpf_vm_run *run)
{
	struct bpf_map *map = take_reserved(run, r1);

	(void)r3, (void)r4, (void)r5;
	if (map)
		bpf_ringbuf_discard(map, (void *)(uintptr_t)r1, r2);
	return 0;
}

static u64 bpf_ringbuf_query_helper(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
				    struct nsbpf_vm_run *run)
{
	struct bpf_map *map = map_arg(run, r1);

	(void)r3, (void)r4, (void)r5;
	if (!map || map->map_type != BPF_MAP_TYPE_RINGBUF)
		return 0;
	return bpf_ringbuf_query(map, r2);
}

void bpf_run_ctx_release(struct bpf_run_ctx *rc)
{
	while (rc->nr_reserved) {
		rc->nr_reserved--;
		bpf_ringbuf_discard(rc->reserved[rc->nr_reserved].map,
				    rc->reserved[rc->nr_reserved].sample, 0);
	}
	rc->nr_inner_maps = 0;
}

/* ---- Tail calls ----------------------------------------------------------------------- */

/* A placeholder: the VM calls env->tail_call instead (NSBPF_VM_HELPER_TAIL_CALL). */
static u64 bpf_tail_call(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5, struct nsbpf_vm_run *run)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)run;
	return 0;
}

const struct nsbpf_vm_prog *bpf_tail_call_target(struct nsbpf_vm_run *run, uint64_t map_arg_,
						 uint64_t index)
{
	struct bpf_run_ctx *rc = run_ctx(run);
	struct bpf_map *map = (struct bpf_map *)(uintptr_t)map_arg_;
	const struct bpf_prog *target;

	/* a bad map is a verifier error in the kernel; here the call falls through */
	if (!bpf_prog_uses_map(rc->prog, map) || map->map_type != BPF_MAP_TYPE_PROG_ARRAY)
		return NULL;
	target = bpf_prog_array_map_lookup(map, (uint32_t)index);
	if (!target)
		return NULL;
	for (uint32_t i = 0; i < target->nr_value_regions; i++)
		if (!grant(run, target->value_regions[i].start, target->value_regions[i].len,
			   target->value_regions[i].flags))
			return NULL;
	rc->prog = target;
	return target->vm;
}

/* ---- Flow dissector ----------------------------------------------------------------- */

/*
 * bpf_skb_load_bytes of a flow dissector (bpf_flow_dissector_load_bytes): bytes of the packet
 * from the skb. Without an skb (a test run), or past the packet, the buffer is cleared and the
 * result is -EFAULT, as the kernel's.
 */
static u64 bpf_flow_dissector_load_bytes(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5,
					 struct nsbpf_vm_run *run)
{
	const struct bpf_flow_dissector_ctx *ctx = (const void *)(uintptr_t)r1;
	uint32_t offset = (uint32_t)r2, len = (uint32_t)r4;
	void *to = (void *)(uintptr_t)r3;

	(void)r5;
	if (!mem_arg(run, r1, sizeof(*ctx), NSBPF_VM_READ) || !mem_arg(run, r3, len, NSBPF_VM_RW))
		return (u64)-EFAULT;
	if (offset > 0xffff || !ctx->has_skb || offset + (u64)len > ctx->skb.data_end - ctx->skb.data) {
		memset(to, 0, len);
		return (u64)-EFAULT;
	}
	memcpy(to, (const uint8_t *)(uintptr_t)ctx->skb.data + offset, len);
	return 0;
}

/* ---- The tables ----------------------------------------------------------------------- */

/*
 * Every helper nsbpf has: id, function, kind. BASE helpers are the kernel's
 * bpf_base_func_proto set every program type here gets; TASK helpers are the ones the
 * cgroup hooks that run in a task's context add (cgroup_current_func_proto).
 */
#define BPF_BASE_HELPERS(X)                                                              \
	X(BPF_FUNC_map_lookup_elem, bpf_map_lookup_elem, PLAIN)                           \
	X(BPF_FUNC_map_update_elem, bpf_map_update_elem, PLAIN)                           \
	X(BPF_FUNC_map_delete_elem, bpf_map_delete_elem, PLAIN)                           \
	X(BPF_FUNC_ktime_get_ns, bpf_ktime_get_ns, PLAIN)                                 \
	X(BPF_FUNC_trace_printk, bpf_trace_printk, PLAIN)                                 \
	X(BPF_FUNC_get_prandom_u32, bpf_get_prandom_u32, PLAIN)                           \
	X(BPF_FUNC_get_smp_processor_id, bpf_get_smp_processor_id, PLAIN)                 \
	X(BPF_FUNC_tail_call, bpf_tail_call, TAIL_CALL)                                   \
	X(BPF_FUNC_ktime_get_boot_ns, bpf_ktime_get_boot_ns, PLAIN)                       \
	X(BPF_FUNC_ringbuf_output, bpf_ringbuf_output_helper, PLAIN)                      \
	X(BPF_FUNC_ringbuf_reserve, bpf_ringbuf_reserve_helper, PLAIN)                    \
	X(BPF_FUNC_ringbuf_submit, bpf_ringbuf_submit_helper, PLAIN)                      \
	X(BPF_FUNC_ringbuf_discard, bpf_ringbuf_discard_helper, PLAIN)                    \
	X(BPF_FUNC_ringbuf_query, bpf_ringbuf_query_helper, PLAIN)

#define BPF_TASK_HELPERS(X)                                                              \
	X(BPF_FUNC_get_current_pid_tgid, bpf_get_current_pid_tgid, PLAIN)                 \
	X(BPF_FUNC_get_current_uid_gid, bpf_get_current_uid_gid, PLAIN)

#define HELPER_ENTRY(id, fn, kind)                                                       \
	[id] = { fn, #fn, NSBPF_VM_HELPER_##kind },

#define BPF_FLOW_DISSECTOR_HELPERS(X)                                                    \
	X(BPF_FUNC_skb_load_bytes, bpf_flow_dissector_load_bytes, PLAIN)

static const struct nsbpf_vm_helper base_helpers[] = { BPF_BASE_HELPERS(HELPER_ENTRY) };
static const struct nsbpf_vm_helper flow_dissector_helpers[] = {
	BPF_BASE_HELPERS(HELPER_ENTRY) BPF_FLOW_DISSECTOR_HELPERS(HELPER_ENTRY)
};
static const struct nsbpf_vm_helper task_helpers[] = { BPF_BASE_HELPERS(HELPER_ENTRY)
							       BPF_TASK_HELPERS(HELPER_ENTRY) };
#undef HELPER_ENTRY

/*
 * Helpers the kernel marks gpl_only: a program whose license is not GPL-compatible may not
 * call them (check_helper_call: "cannot call GPL-restricted function ...").
 */
static const int32_t gpl_only_helpers[] = { BPF_FUNC_trace_printk };

bool bpf_helper_gpl_only(int32_t id)
{
	for (size_t i = 0; i < sizeof(gpl_only_helpers) / sizeof(gpl_only_helpers[0]); i++)
		if (gpl_only_helpers[i] == id)
			return true;
	return false;
}

/* The program types whose hooks run in a task's context, with the TASK helpers. */
static const uint32_t task_prog_types[] = {
	BPF_PROG_TYPE_CGROUP_SOCK, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_PROG_TYPE_CGROUP_SYSCTL,
	BPF_PROG_TYPE_CGROUP_SOCKOPT,
};

const struct nsbpf_vm_helper *bpf_prog_type_helpers(uint32_t type, uint32_t *nr_helpers)
{
	if (type == BPF_PROG_TYPE_FLOW_DISSECTOR) {
		*nr_helpers = sizeof(flow_dissector_helpers) / sizeof(flow_dissector_helpers[0]);
		return flow_dissector_helpers;
	}
	for (size_t i = 0; i < sizeof(task_prog_types) / sizeof(task_prog_types[0]); i++) {
		if (task_prog_types[i] == type) {
			*nr_helpers = sizeof(task_helpers) / sizeof(task_helpers[0]);
			return task_helpers;
		}
	}
	*nr_helpers = sizeof(base_helpers) / sizeof(base_helpers[0]);
	return base_helpers;
}
