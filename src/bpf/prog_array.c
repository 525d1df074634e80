// SPDX-License-Identifier: MIT
/*
 * prog_array.c - run arrays: the list of programs a hook runs, replaced whole under the hook
 * owner's lock and read without locks under RCU, as the kernel's struct bpf_prog_array.
 */
#include <errno.h>
#include <stdlib.h>
#include <urcu/urcu-memb.h>

#include "bpf.h"

/* An array waiting for its readers, and whose rcu_pending it counts in. */
struct prog_array_free_rcu {
	struct rcu_head rcu;
	struct bpf_state *st;
	struct bpf_prog_array *array;
};

struct bpf_prog_array *bpf_prog_array_alloc(uint32_t cnt)
{
	struct bpf_prog_array *array = calloc(1, sizeof(*array) + cnt * sizeof(array->progs[0]));

	if (array)
		array->cnt = cnt;
	return array;
}

uint32_t bpf_prog_array_length(const struct bpf_prog_array *array)
{
	uint32_t i, n = 0;

	for (i = 0; i < array->cnt; i++)
		n += __atomic_load_n(&array->progs[i], __ATOMIC_ACQUIRE) != NULL;
	return n;
}

static void prog_array_free_rcu(struct rcu_head *head)
{
	struct prog_array_free_rcu *p = caa_container_of(head, struct prog_array_free_rcu, rcu);
	struct bpf_state *st = p->st;

	free(p->array);
	free(p);
	atomic_fetch_sub(&st->rcu_pending, 1);
}

void bpf_prog_array_free(struct bpf_state *st, struct bpf_prog_array *array)
{
	struct prog_array_free_rcu *deferred;

	if (!array)
		return;
	deferred = malloc(sizeof(*deferred));
	if (!deferred) {
		/* no memory to defer with: wait for the readers here instead */
		urcu_memb_synchronize_rcu();
		free(array);
		return;
	}
	deferred->st = st;
	deferred->array = array;
	atomic_fetch_add(&st->rcu_pending, 1);
	bpf_rcu_thread_online(); /* call_rcu enters a read-side section */
	urcu_memb_call_rcu(&deferred->rcu, prog_array_free_rcu);
}

int bpf_prog_array_copy_to_user(const struct bpf_prog_array *array, uint64_t uids, uint32_t cnt)
{
	uint32_t i, j = 0, id;

	/* the kernel fills every slot it was given: ids first, then zeros */
	for (i = 0; i < cnt; i++) {
		struct bpf_prog *prog = NULL;

		while (j < array->cnt && !(prog = __atomic_load_n(&array->progs[j++],
								 __ATOMIC_ACQUIRE)))
			;
		id = prog ? bpf_prog_id(prog) : 0;
		if (copy_to_user(u64_to_user_ptr(uids + (uint64_t)i * sizeof(id)), &id, sizeof(id)))
			return -EFAULT;
	}
	return bpf_prog_array_length(array) > cnt ? -ENOSPC : 0;
}
