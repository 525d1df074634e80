// SPDX-License-Identifier: MIT
/*
 * idr.c - the id allocator behind every id space of the runtime (see idr.h for the
 * interface and its locking rules).
 *
 * A node covers 64 << shift ids; leaves (shift 0) hold the entries. Each node's `full` bitmap
 * has a bit set for each slot whose subtree has no free id left (for a leaf: each allocated
 * id), so finding the lowest free id at or above a start point descends at most one "wrong"
 * subtree per level. Nodes know their parent so that the bitmaps can be fixed on the way back
 * up, and nodes left with nothing in them are freed, so a cyclic allocator marching through
 * the id space keeps only the nodes its live ids need.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "idr.h"
#include "rcu.h"

#define IDR_BITS  6
#define IDR_SLOTS (1u << IDR_BITS)
#define IDR_MASK  (IDR_SLOTS - 1)
#define IDR_FULL  UINT64_MAX

_Static_assert(sizeof(unsigned long) == 8, "ids up to INT_MAX need 36-bit node spans");

struct idr_node {
	unsigned char shift;	    /* ids per slot = 1 << shift */
	unsigned char offset;	    /* slot in the parent */
	unsigned short count;	    /* allocated ids (leaf) or children (inner node) */
	struct idr_node *parent;    /* NULL for the root; readers never follow it */
	struct idr_node *next_free; /* on idr->gc while waiting for idr_reclaim() */
	uint64_t full;
	void *slots[IDR_SLOTS];
};

void idr_init(struct idr *idr)
{
	*idr = (struct idr){ 0 };
}

void idr_init_rcu(struct idr *idr)
{
	idr_init(idr);
	idr->rcu = true;
}

static unsigned long node_span(const struct idr_node *node)
{
	return (unsigned long)IDR_SLOTS << node->shift;
}

static struct idr_node *node_alloc(unsigned int shift, struct idr_node *parent, unsigned int offset)
{
	struct idr_node *node = calloc(1, sizeof(*node));

	if (node) {
		node->shift = shift;
		node->parent = parent;
		node->offset = offset;
	}
	return node;
}

static void node_free_tree(struct idr_node *node)
{
	unsigned int i;

	if (node->shift)
		for (i = 0; i < IDR_SLOTS; i++)
			if (node->slots[i])
				node_free_tree(node->slots[i]);
	free(node);
}

/* An unlinked node: free now, or after the owner's grace period if readers may be on it. */
static void node_retire(struct idr *idr, struct idr_node *node)
{
	if (idr->rcu) {
		node->next_free = idr->gc;
		idr->gc = node;
	} else {
		free(node);
	}
}

void idr_reclaim(struct idr *idr)
{
	struct idr_node *node, *next;

	for (node = idr->gc; node; node = next) {
		next = node->next_free;
		free(node);
	}
	idr->gc = NULL;
}

void idr_destroy(struct idr *idr)
{
	if (idr->root)
		node_free_tree(idr->root);
	idr_reclaim(idr);
	idr->root = NULL;
	idr->count = 0;
	idr->next = 0;
}

/*
 * The lowest free id >= start inside @node's subtree (which begins at @base), or -1 if every
 * id from start to the end of the subtree is allocated.
 */
static long node_find_free(const struct idr_node *node, unsigned long base, unsigned long start)
{
	unsigned int off = start > base ? (start - base) >> node->shift : 0;
	uint64_t candidates;

	if (off >= IDR_SLOTS)
		return -1;
	candidates = ~node->full & (IDR_FULL << off);
	while (candidates) {
		unsigned int i = __builtin_ctzll(candidates);
		unsigned long slot_base = base + ((unsigned long)i << node->shift);
		const struct idr_node *child = node->slots[i];
		long id;

		if (!node->shift || !child)
			return slot_base > start ? slot_base : start;
		/* Only the slot holding @start can be free below start yet full above it. */
		id = node_find_free(child, slot_base, start);
		if (id >= 0)
			return id;
		candidates &= candidates - 1;
	}
	return -1;
}

static unsigned long idr_find_free(const struct idr *idr, unsigned long start)
{
	const struct idr_node *root = idr->root;
	long id;

	if (!root || start >= node_span(root))
		return start;
	id = node_find_free(root, 0, start);
	return id >= 0 ? (unsigned long)id : node_span(root);
}

/* Grows the tree upwards until it covers @id. */
static int idr_extend(struct idr *idr, unsigned long id)
{
	struct idr_node *root = idr->root, *node;
	unsigned int shift = 0;

	if (!root) {
		while (id >= ((unsigned long)IDR_SLOTS << shift))
			shift += IDR_BITS;
		node = node_alloc(shift, NULL, 0);
		if (!node)
			return -ENOMEM;
		rcu_assign_pointer(idr->root, node);
		return 0;
	}
	while (id >= node_span(root)) {
		node = node_alloc(root->shift + IDR_BITS, NULL, 0);
		if (!node)
			return -ENOMEM;
		node->slots[0] = root;
		node->count = 1;
		if (root->full == IDR_FULL)
			node->full = 1;
		root->parent = node;
		rcu_assign_pointer(idr->root, node);
		root = node;
	}
	return 0;
}

/* Frees @node and its ancestors for as long as they are left empty. */
static void idr_prune(struct idr *idr, struct idr_node *node)
{
	while (node && !node->count) {
		struct idr_node *parent = node->parent;

		if (parent) {
			RCU_INIT_POINTER(parent->slots[node->offset], NULL);
			parent->count--;
		} else {
			RCU_INIT_POINTER(idr->root, NULL);
		}
		node_retire(idr, node);
		node = parent;
	}
}

/* The leaf for @id, creating the nodes on the way; NULL on allocation failure. */
static struct idr_node *idr_leaf_create(struct idr *idr, unsigned long id)
{
	struct idr_node *node = idr->root, *child;

	while (node->shift) {
		unsigned int i = (id >> node->shift) & IDR_MASK;

		child = node->slots[i];
		if (!child) {
			child = node_alloc(node->shift - IDR_BITS, node, i);
			if (!child) {
				idr_prune(idr, node);
				return NULL;
			}
			rcu_assign_pointer(node->slots[i], child);
			node->count++;
		}
		node = child;
	}
	return node;
}

static struct idr_node *idr_leaf_lookup(const struct idr *idr, unsigned long id)
{
	struct idr_node *node = idr->root;

	if (!node || id >= node_span(node))
		return NULL;
	while (node && node->shift)
		node = node->slots[(id >> node->shift) & IDR_MASK];
	return node;
}

static int idr_insert(struct idr *idr, unsigned long id, void *ptr)
{
	struct idr_node *leaf, *node;
	unsigned int i = id & IDR_MASK;
	int err;

	err = idr_extend(idr, id);
	if (err)
		return err;
	leaf = idr_leaf_create(idr, id);
	if (!leaf)
		return -ENOMEM;
	rcu_assign_pointer(leaf->slots[i], ptr);
	leaf->full |= 1ULL << i;
	leaf->count++;
	idr->count++;
	for (node = leaf; node->full == IDR_FULL && node->parent; node = node->parent)
		node->parent->full |= 1ULL << node->offset;
	return 0;
}

static int __idr_alloc(struct idr *idr, void *ptr, unsigned long start, unsigned long max)
{
	unsigned long id;
	int err;

	if (start > max)
		return -ENOSPC;
	id = idr_find_free(idr, start);
	if (id > max)
		return -ENOSPC;
	err = idr_insert(idr, id, ptr);
	return err ? err : (int)id;
}

static unsigned long idr_max(int end)
{
	return end > 0 ? (unsigned long)end - 1 : INT_MAX;
}

int idr_alloc(struct idr *idr, void *ptr, int start, int end)
{
	if (start < 0)
		return -EINVAL;
	return __idr_alloc(idr, ptr, start, idr_max(end));
}

int idr_alloc_cyclic(struct idr *idr, void *ptr, int start, int end)
{
	unsigned long max = idr_max(end), id = idr->next;
	int ret;

	if (start < 0)
		return -EINVAL;
	if (id < (unsigned long)start || id > max)
		id = start;
	ret = __idr_alloc(idr, ptr, id, max);
	if (ret == -ENOSPC && id > (unsigned long)start)
		ret = __idr_alloc(idr, ptr, start, max);
	if (ret >= 0)
		idr->next = (unsigned int)ret + 1;
	return ret;
}

void *idr_find(const struct idr *idr, unsigned long id)
{
	const struct idr_node *node = rcu_dereference(idr->root);

	if (!node || id >= node_span(node))
		return NULL;
	while (node->shift) {
		node = rcu_dereference(node->slots[(id >> node->shift) & IDR_MASK]);
		if (!node)
			return NULL;
	}
	return rcu_dereference(node->slots[id & IDR_MASK]);
}

/* The first non-NULL entry with id >= start in @node's subtree (which begins at @base). */
static void *node_get_next(const struct idr_node *node, unsigned long base, unsigned long start,
			   unsigned long *found)
{
	unsigned int i = start > base ? (start - base) >> node->shift : 0;

	for (; i < IDR_SLOTS; i++) {
		void *slot = rcu_dereference(((struct idr_node *)node)->slots[i]);
		unsigned long slot_base = base + ((unsigned long)i << node->shift);
		void *entry;

		if (!slot)
			continue;
		if (!node->shift) {
			*found = slot_base;
			return slot;
		}
		entry = node_get_next(slot, slot_base, start > slot_base ? start : slot_base,
				      found);
		if (entry)
			return entry;
	}
	return NULL;
}

void *idr_get_next(const struct idr *idr, int *nextid)
{
	const struct idr_node *root = rcu_dereference(idr->root);
	unsigned long found;
	void *entry;

	if (!root || *nextid < 0 || (unsigned long)*nextid >= node_span(root))
		return NULL;
	entry = node_get_next(root, 0, *nextid, &found);
	if (entry)
		*nextid = (int)found;
	return entry;
}

void *idr_remove(struct idr *idr, unsigned long id)
{
	struct idr_node *leaf = idr_leaf_lookup(idr, id), *node;
	unsigned int i = id & IDR_MASK;
	void *old;

	if (!leaf || !(leaf->full & (1ULL << i)))
		return NULL;
	old = leaf->slots[i];
	RCU_INIT_POINTER(leaf->slots[i], NULL);
	leaf->full &= ~(1ULL << i);
	leaf->count--;
	idr->count--;
	for (node = leaf; node->parent; node = node->parent) {
		uint64_t bit = 1ULL << node->offset;

		if (!(node->parent->full & bit))
			break;
		node->parent->full &= ~bit;
	}
	idr_prune(idr, leaf);
	return old;
}

int idr_replace(struct idr *idr, void *ptr, unsigned long id, void **old)
{
	struct idr_node *leaf = idr_leaf_lookup(idr, id);
	unsigned int i = id & IDR_MASK;

	if (!leaf || !(leaf->full & (1ULL << i)))
		return -ENOENT;
	if (old)
		*old = leaf->slots[i];
	rcu_assign_pointer(leaf->slots[i], ptr);
	return 0;
}
