/* SPDX-License-Identifier: MIT */
/*
 * idr.h - integer id allocators mapping ids to pointers, with the kernel's idr API:
 * idr_alloc() hands out the lowest free id in a range (what the kernel's ida does for ns
 * inode numbers), idr_alloc_cyclic() the next free id after the last one handed out, wrapping
 * to the start of the range (prog, map, link and BTF ids, ifindexes, cgroup ids, pids).
 *
 * The tree is a radix tree of 64-slot nodes, at most six levels for ids up to INT_MAX, each
 * node with a bitmap of the slots whose subtree is fully allocated: lookup, allocation and
 * removal are O(log64 n), and 100,000 live ids take about 1,600 leaves (under 1 MB).
 *
 * An id may be allocated with a NULL pointer (reserved but not yet visible, as a bpf_link
 * between prime and settle); idr_find() and idr_get_next() then see nothing there.
 *
 * Locking is the user's: writers (alloc, remove, replace) are serialised by the owner's lock.
 * idr_find() and idr_get_next() may run concurrently with a writer under rcu_read_lock() if the
 * idr was set up with idr_init_rcu(): nodes emptied by idr_remove() are then kept until the
 * owner calls idr_reclaim() after a grace period.
 */
#ifndef NSBPF_CORE_IDR_H
#define NSBPF_CORE_IDR_H

#include <stdbool.h>

struct idr_node;

struct idr {
	struct idr_node *root; /* rcu_assign_pointer()ed: readers may hold it under RCU */
	unsigned int next;     /* where idr_alloc_cyclic() starts looking */
	unsigned int count;    /* allocated ids */
	bool rcu;	       /* set by idr_init_rcu(): defer freeing nodes to idr_reclaim() */
	struct idr_node *gc;   /* emptied nodes waiting for a grace period (rcu mode) */
};

void idr_init(struct idr *idr);
void idr_init_rcu(struct idr *idr);
/* Frees the tree (not the objects it points to). The idr may then be reused or dropped. */
void idr_destroy(struct idr *idr);

/*
 * Allocates the lowest free id in [start, end) (end <= 0 means up to INT_MAX) and maps it to
 * @ptr. Returns the id, -ENOSPC if the range is full, -EINVAL if start < 0, -ENOMEM.
 */
int idr_alloc(struct idr *idr, void *ptr, int start, int end);
/* As idr_alloc(), starting after the id handed out last and wrapping to @start once. */
int idr_alloc_cyclic(struct idr *idr, void *ptr, int start, int end);

/* The pointer mapped to @id, or NULL (free, reserved with NULL, or out of range). */
void *idr_find(const struct idr *idr, unsigned long id);
/*
 * The first non-NULL entry with id >= *nextid, storing its id in *nextid; NULL when there is
 * none. Iterates in id order.
 */
void *idr_get_next(const struct idr *idr, int *nextid);
/* Frees @id; returns what it mapped to (NULL if it was free or reserved with NULL). */
void *idr_remove(struct idr *idr, unsigned long id);
/* Maps the allocated @id to @ptr; *old (if not NULL) gets the previous pointer. -ENOENT if free. */
int idr_replace(struct idr *idr, void *ptr, unsigned long id, void **old);
/* Frees the nodes idr_remove() emptied; rcu mode only, after a grace period since the remove. */
void idr_reclaim(struct idr *idr);

static inline unsigned int idr_count(const struct idr *idr)
{
	return idr->count;
}

/* Where the next idr_alloc_cyclic() starts. */
static inline unsigned int idr_get_cursor(const struct idr *idr)
{
	return idr->next;
}

#define idr_for_each_entry(idr, entry, id)                                                         \
	for ((id) = 0; ((entry) = idr_get_next((idr), &(id))) != NULL; ++(id))

#endif /* NSBPF_CORE_IDR_H */
