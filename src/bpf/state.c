// SPDX-License-Identifier: MIT
/*
 * state.c - the BPF subsystem's state of one runtime (struct bpf_state): created on the
 * first bpf() command or fd call, hung on the runtime with a compare-and-swap so that two
 * threads racing to create it agree on one, and freed by the runtime's free hook before any
 * core object goes. Also the calling thread's current task (nsbpf_set_current_task()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf.h"
#include "bpf-netns.h"
#include "core/runtime.h"

/*
 * Possible CPUs, as libbpf counts them (/sys/devices/system/cpu/possible, e.g. "0-7"):
 * per-CPU map values are laid out for that many, so both sides must agree.
 */
static uint32_t bpf_nr_possible_cpus(void)
{
	unsigned int lo, hi, max = 0;
	char text[256], *p;
	FILE *f;
	long n;

	f = fopen("/sys/devices/system/cpu/possible", "re");
	if (f) {
		if (fgets(text, sizeof(text), f)) {
			for (p = strtok(text, ","); p; p = strtok(NULL, ",")) {
				int got = sscanf(p, "%u-%u", &lo, &hi);

				if (got == 1)
					hi = lo;
				if (got >= 1 && hi + 1 > max)
					max = hi + 1;
			}
		}
		fclose(f);
	}
	if (max)
		return max;
	n = sysconf(_SC_NPROCESSORS_CONF);
	return n > 0 ? (uint32_t)n : 1;
}

/* What bpf_state_new() made, freed: the runtime's objects are gone by now. */
static void bpf_state_free_unregistered(struct bpf_state *st)
{
	/*
	 * Deferred releases still reach st (map_free_id, prog ids); one may queue another (a
	 * prog array's element drops a program, whose free is deferred too), and a barrier
	 * only waits for what was queued before it: repeat until none is left. (A barrier waits
	 * for liburcu's next batch, milliseconds: none when nothing is pending.)
	 */
	while (atomic_load(&st->rcu_pending))
		urcu_memb_barrier();
	idr_destroy(&st->prog_idr);
	idr_destroy(&st->map_idr);
	idr_destroy(&st->link_idr);
	idr_destroy(&st->btf_idr);
	pthread_mutex_destroy(&st->idr_lock);
	pthread_mutex_destroy(&st->trace_lock);
	pthread_mutex_destroy(&st->mmap_lock);
	free(st->trace_log);
	free(st);
}

static void bpf_state_free(struct nsbpf_runtime *rt, void *state)
{
	struct bpf_state *st = state;

	(void)rt;
	/* mappings, fds and pins first: they drop the last references of most objects */
	bpf_mappings_free(st);
	bpf_fdtable_free(st->fdt);
	bpffs_free(st->fs);
	/* links are released by now; what is still attached to a namespace goes here */
	netns_bpf_exit(st);
	bpf_state_free_unregistered(st);
}


static int bpf_state_new(struct nsbpf_runtime *rt, struct bpf_state **stp)
{
	struct bpf_state *st = calloc(1, sizeof(*st));
	int err;

	if (!st)
		return -ENOMEM;
	st->rt = rt;
	err = bpf_fdtable_new(&st->fdt);
	if (err)
		goto err_free_st;
	err = bpffs_new(&st->fs);
	if (err)
		goto err_free_fdt;
	pthread_mutex_init(&st->idr_lock, NULL);
	pthread_mutex_init(&st->trace_lock, NULL);
	pthread_mutex_init(&st->mmap_lock, NULL);
	idr_init(&st->prog_idr);
	idr_init(&st->map_idr);
	idr_init(&st->link_idr);
	idr_init(&st->btf_idr);
	st->map_env.nr_cpus = bpf_nr_possible_cpus();
	st->map_env.obj_ops = &bpf_map_obj_ops_sys;
	st->map_env.obj_ctx = st;
	st->map_env.rcu_pending = &st->rcu_pending;
	*stp = st;
	return 0;

err_free_fdt:
	bpf_fdtable_free(st->fdt);
err_free_st:
	free(st);
	return err;
}

struct bpf_state *bpf_state_peek(struct nsbpf_runtime *rt)
{
	return __atomic_load_n(&rt->bpf.state, __ATOMIC_ACQUIRE);
}

/*
 * Creating a state is serialised, across runtimes (it happens once per runtime): the state is
 * published before it registers its pernet operations, whose callbacks find it through the
 * runtime, and it is ready only after, so that no command meets a namespace without its
 * per-namespace data and no state made in vain unregisters operations the kept one relies on.
 */
static pthread_mutex_t bpf_state_create_lock = PTHREAD_MUTEX_INITIALIZER;

struct bpf_state *bpf_state_get(struct nsbpf_runtime *rt)
{
	struct bpf_state *st = bpf_state_peek(rt);

	if (st && atomic_load_explicit(&st->ready, memory_order_acquire))
		return st;
	pthread_mutex_lock(&bpf_state_create_lock);
	st = bpf_state_peek(rt);
	if (!st && !bpf_state_new(rt, &st)) {
		/* The free hook is set before the state is published, and never changes. */
		rt->bpf.free = bpf_state_free;
		__atomic_store_n(&rt->bpf.state, st, __ATOMIC_RELEASE);
		if (netns_bpf_init(st)) {
			__atomic_store_n(&rt->bpf.state, NULL, __ATOMIC_RELEASE);
			rt->bpf.free = NULL;
			bpf_fdtable_free(st->fdt);
			bpffs_free(st->fs);
			bpf_state_free_unregistered(st);
			st = NULL;
		} else {
			atomic_store_explicit(&st->ready, true, memory_order_release);
		}
	}
	pthread_mutex_unlock(&bpf_state_create_lock);
	return st;
}

/*
 * The current task of each runtime this thread has set one for. A thread drives few
 * runtimes at once; past NSBPF_CURRENT_MAX the oldest entry is reused.
 */
#define NSBPF_CURRENT_MAX 4
static __thread struct {
	struct nsbpf_runtime *rt;
	struct task_struct *task; /* no reference: see nsbpf_set_current_task() */
} bpf_current[NSBPF_CURRENT_MAX];
static __thread unsigned int bpf_current_next;

int nsbpf_set_current_task(struct nsbpf_runtime *rt, struct nsbpf_task *task)
{
	struct task_struct *tsk = task ? task_from_handle(task) : NULL;
	unsigned int i;

	if (tsk && tsk->rt != rt)
		return -EINVAL;
	for (i = 0; i < NSBPF_CURRENT_MAX; i++) {
		if (bpf_current[i].rt == rt) {
			bpf_current[i].task = tsk;
			return 0;
		}
	}
	i = bpf_current_next++ % NSBPF_CURRENT_MAX;
	bpf_current[i].rt = rt;
	bpf_current[i].task = tsk;
	return 0;
}

struct task_struct *bpf_current_task(struct nsbpf_runtime *rt)
{
	unsigned int i;

	for (i = 0; i < NSBPF_CURRENT_MAX; i++)
		if (bpf_current[i].rt == rt && bpf_current[i].task)
			return bpf_current[i].task;
	return &rt->tasks.init_task;
}
