// SPDX-License-Identifier: MIT
/*
 * hashtab.c - hash maps: HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and HASH_OF_MAPS
 * (kernel/bpf/hashtab.c and, for the LRU, the parts of bpf_lru_list.c that show).
 *
 * A table is a power-of-two array of buckets; each bucket is a singly linked RCU chain
 * ended by a "nulls" marker that names the bucket. Readers (lookups from programs and
 * from the syscall side, get_next_key) walk chains under the RCU read lock without
 * taking locks; writers take the bucket's lock, publish a new element at the head with a
 * release store and unlink the old one, so a concurrent reader sees either.
 *
 * Elements are preallocated at creation as the kernel does, unless BPF_F_NO_PREALLOC: a
 * preallocated element returns to the free list as soon as it is unlinked and may be
 * reused at once, so a reader can find itself on an element that moved to another chain;
 * the nulls marker at the end tells it, and it restarts (lookup_nulls_elem_raw). Memory
 * stays valid until the map is freed, so a program keeps a valid pointer whatever happens
 * to the element (its contents may change under it, as in the kernel). Malloc'ed elements
 * are freed after an RCU grace period instead.
 *
 * Per-CPU maps keep every CPU's value inline in the element. HASH_OF_MAPS values are
 * struct bpf_fd_elem pointers, replaced in place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "map.h"

#define HTAB_CREATE_FLAG_MASK                                                                      \
	(BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK |           \
	 BPF_F_ZERO_SEED)

/*
 * Sizes of the kernel's structs on x86-64 (6.18): creation limits and the memlock figure
 * use them. struct bpf_htab's was measured (memlock of a one-entry map).
 */
#define HTAB_KERNEL_ELEM_SIZE	    48u
#define HTAB_KERNEL_BUCKET_SIZE	    16u
#define HTAB_KERNEL_HTAB_SIZE	    896u
#define HTAB_KERNEL_LLIST_NODE_SIZE 8u

/* The LRU's batch sizes (bpf_lru_list.h): LOCAL_FREE_TARGET, PERCPU_FREE_TARGET. */
#define LRU_LOCAL_FREE_TARGET  128u
#define LRU_PERCPU_FREE_TARGET 4u

/* A chain link is an element pointer, or (bucket index << 1) | 1 at the end of a chain. */
#define NULLS_MARKER(i) (((uintptr_t)(i) << 1) | 1)

static bool is_a_nulls(uintptr_t p)
{
	return p & 1;
}

static uint32_t get_nulls_value(uintptr_t p)
{
	return (uint32_t)(p >> 1);
}

struct bucket {
	_Atomic uintptr_t head; /* first element, or this bucket's nulls marker */
	/* Serialises the writers of this chain; readers use RCU and never take it. */
	struct map_lock lock;
};

/* Each element is a struct htab_elem, the key (rounded to 8), then the value area. */
struct htab_elem {
	_Atomic uintptr_t hash_node; /* next element of the chain, or a nulls marker */
	union {
		struct htab_elem *free_next;   /* on a free list (preallocated maps) */
		struct htab_elem *batch_flink; /* unlinked by a batch, freed after unlock */
		struct rcu_head rcu;	       /* waiting for a grace period (malloc'ed) */
	};
	/* LRU maps: position on the in-use list (protected by the LRU list's lock). */
	struct htab_elem *lru_prev, *lru_next;
	_Atomic uint8_t lru_ref; /* looked up by a program since the last rotation */
	uint16_t lru_cpu;	 /* BPF_F_NO_COMMON_LRU: the CPU list it belongs to */
	uint32_t hash;
	char key[] __attribute__((aligned(8)));
};

_Static_assert(sizeof(struct htab_elem) == HTAB_KERNEL_ELEM_SIZE, "htab_elem layout");

/*
 * One LRU list: elements in the table, most recently inserted or rotated first, and the
 * free ones. The common LRU has one, with a "local" free list that models one CPU's
 * (elements move to it from the free list, or are evicted into it, target_free at a
 * time: what user space can count); BPF_F_NO_COMMON_LRU has one per CPU.
 */
struct htab_lru {
	/*
	 * Protects every field. Lock order: an LRU lock, then a bucket lock, never the other
	 * way (eviction unlinks elements from their buckets while holding it).
	 */
	struct map_lock lock;
	struct htab_elem *free;
	struct htab_elem *local_free; /* common LRU only */
	struct htab_elem *first, *last;
};

struct bpf_htab {
	struct bpf_map map;
	struct bucket *buckets;
	char *elems; /* the preallocated elements, or NULL */
	/* Protects freelist: preallocated elements out of the table (not for LRU maps). */
	struct map_lock freelist_lock;
	struct htab_elem *freelist;
	struct htab_lru *lru; /* LRU maps: one list, or one per CPU */
	uint32_t nr_lru;
	uint32_t lru_target_free;
	_Atomic uint32_t count; /* elements in the table */
	uint32_t n_buckets;
	uint32_t elem_size;
	uint32_t nr_elems; /* preallocated: max_entries, plus one spare per CPU for HASH */
	uint32_t hashrnd;
	bool prealloc, percpu, is_lru, is_fd;
};

static struct bpf_htab *to_htab(const struct bpf_map *map)
{
	return (struct bpf_htab *)map; /* struct bpf_map is the first member */
}

/* ---- jhash (include/linux/jhash.h): with BPF_F_ZERO_SEED the order matches the kernel's */

#define JHASH_INITVAL 0xdeadbeef

static uint32_t rol32(uint32_t word, unsigned int shift)
{
	return (word << (shift & 31)) | (word >> ((-shift) & 31));
}

/* __jhash_mix: mix 3 32-bit values reversibly */
static void __jhash_mix(uint32_t *a, uint32_t *b, uint32_t *c)
{
	*a -= *c;
	*a ^= rol32(*c, 4);
	*c += *b;
	*b -= *a;
	*b ^= rol32(*a, 6);
	*a += *c;
	*c -= *b;
	*c ^= rol32(*b, 8);
	*b += *a;
	*a -= *c;
	*a ^= rol32(*c, 16);
	*c += *b;
	*b -= *a;
	*b ^= rol32(*a, 19);
	*a += *c;
	*c -= *b;
	*c ^= rol32(*b, 4);
	*b += *a;
}

/* __jhash_final: final mixing of 3 32-bit values (a,b,c) into c */
static void __jhash_final(uint32_t *a, uint32_t *b, uint32_t *c)
{
	*c ^= *b;
	*c -= rol32(*b, 14);
	*a ^= *c;
	*a -= rol32(*c, 11);
	*b ^= *a;
	*b -= rol32(*a, 25);
	*c ^= *b;
	*c -= rol32(*b, 16);
	*a ^= *c;
	*a -= rol32(*c, 4);
	*b ^= *a;
	*b -= rol32(*a, 14);
	*c ^= *b;
	*c -= rol32(*b, 24);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t jhash(const void *key, uint32_t length, uint32_t initval)
{
	const uint8_t *k = key;
	uint32_t a, b, c;

	a = b = c = JHASH_INITVAL + length + initval;
	while (length > 12) {
		a += get_u32(k);
		b += get_u32(k + 4);
		c += get_u32(k + 8);
		__jhash_mix(&a, &b, &c);
		length -= 12;
		k += 12;
	}
	switch (length) {
	case 12:
		c += (uint32_t)k[11] << 24;
		/* fallthrough */
	case 11:
		c += (uint32_t)k[10] << 16;
		/* fallthrough */
	case 10:
		c += (uint32_t)k[9] << 8;
		/* fallthrough */
	case 9:
		c += k[8];
		/* fallthrough */
	case 8:
		b += (uint32_t)k[7] << 24;
		/* fallthrough */
	case 7:
		b += (uint32_t)k[6] << 16;
		/* fallthrough */
	case 6:
		b += (uint32_t)k[5] << 8;
		/* fallthrough */
	case 5:
		b += k[4];
		/* fallthrough */
	case 4:
		a += (uint32_t)k[3] << 24;
		/* fallthrough */
	case 3:
		a += (uint32_t)k[2] << 16;
		/* fallthrough */
	case 2:
		a += (uint32_t)k[1] << 8;
		/* fallthrough */
	case 1:
		a += k[0];
		__jhash_final(&a, &b, &c);
		break;
	case 0:
		break;
	}
	return c;
}

/* jhash2 over `length` 32-bit words (the key need not be aligned here). */
static uint32_t jhash2(const void *key, uint32_t length, uint32_t initval)
{
	const uint8_t *k = key;
	uint32_t a, b, c;

	a = b = c = JHASH_INITVAL + (length << 2) + initval;
	while (length > 3) {
		a += get_u32(k);
		b += get_u32(k + 4);
		c += get_u32(k + 8);
		__jhash_mix(&a, &b, &c);
		length -= 3;
		k += 12;
	}
	switch (length) {
	case 3:
		c += get_u32(k + 8);
		/* fallthrough */
	case 2:
		b += get_u32(k + 4);
		/* fallthrough */
	case 1:
		a += get_u32(k);
		__jhash_final(&a, &b, &c);
		break;
	case 0:
		break;
	}
	return c;
}

static uint32_t htab_map_hash(const void *key, uint32_t key_len, uint32_t hashrnd)
{
	if (key_len % 4 == 0)
		return jhash2(key, key_len / 4, hashrnd);
	return jhash(key, key_len, hashrnd);
}

/* ---- Elements ------------------------------------------------------------------------ */

static bool htab_has_extra_elems(const struct bpf_htab *htab)
{
	/* Per-CPU and fd maps update in place; LRU maps evict instead. */
	return !htab->percpu && !htab->is_lru && !htab->is_fd;
}

static void *htab_elem_value(struct htab_elem *l, uint32_t key_size)
{
	return l->key + BPF_MAP_ROUND_UP(key_size, 8);
}

static void *htab_elem_cpu_value(struct bpf_htab *htab, struct htab_elem *l, uint32_t cpu)
{
	return (char *)htab_elem_value(l, htab->map.key_size) +
	       (size_t)cpu * bpf_map_percpu_size(&htab->map);
}

/* HASH_OF_MAPS: the element's value slot holds a struct bpf_fd_elem pointer. */
static struct bpf_fd_elem **htab_elem_fd_slot(struct bpf_htab *htab, struct htab_elem *l)
{
	return htab_elem_value(l, htab->map.key_size);
}

static struct htab_elem *get_htab_elem(struct bpf_htab *htab, uint32_t i)
{
	return (struct htab_elem *)(htab->elems + (uint64_t)i * htab->elem_size);
}

static struct bucket *__select_bucket(struct bpf_htab *htab, uint32_t hash)
{
	return &htab->buckets[hash & (htab->n_buckets - 1)];
}

static struct htab_elem *elem_of(uintptr_t link)
{
	return (struct htab_elem *)link;
}

static uintptr_t chain_next(struct htab_elem *l)
{
	return atomic_load_explicit(&l->hash_node, memory_order_acquire);
}

/* Must be called with the bucket's lock held. */
static struct htab_elem *lookup_elem_raw(struct bucket *b, uint32_t hash, const void *key,
					 uint32_t key_size)
{
	uintptr_t n;

	for (n = atomic_load_explicit(&b->head, memory_order_relaxed); !is_a_nulls(n);
	     n = atomic_load_explicit(&elem_of(n)->hash_node, memory_order_relaxed)) {
		struct htab_elem *l = elem_of(n);

		if (l->hash == hash && !memcmp(l->key, key, key_size))
			return l;
	}
	return NULL;
}

/*
 * Without the bucket lock (RCU read lock held): walks again when the chain ended in
 * another bucket, because the element it was on moved there meanwhile.
 */
static struct htab_elem *lookup_nulls_elem_raw(struct bpf_htab *htab, struct bucket *b,
					       uint32_t hash, const void *key, uint32_t key_size)
{
	uintptr_t n;

again:
	for (n = atomic_load_explicit(&b->head, memory_order_acquire); !is_a_nulls(n);
	     n = chain_next(elem_of(n))) {
		struct htab_elem *l = elem_of(n);

		if (l->hash == hash && !memcmp(l->key, key, key_size))
			return l;
	}
	if (get_nulls_value(n) != (hash & (htab->n_buckets - 1)))
		goto again;
	return NULL;
}

/* Must be called with the bucket's lock held: publish l as the chain's first element. */
static void hlist_nulls_add_head_rcu(struct bucket *b, struct htab_elem *l)
{
	atomic_store_explicit(&l->hash_node, atomic_load_explicit(&b->head, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&b->head, (uintptr_t)l, memory_order_release);
}

/*
 * Must be called with the bucket's lock held. l keeps its own link, so a reader standing
 * on it carries on along the chain.
 */
static void hlist_nulls_del_rcu(struct bucket *b, struct htab_elem *l)
{
	_Atomic uintptr_t *pprev = &b->head;
	uintptr_t n;

	while ((n = atomic_load_explicit(pprev, memory_order_relaxed)) != (uintptr_t)l) {
		if (is_a_nulls(n))
			return;
		pprev = &elem_of(n)->hash_node;
	}
	atomic_store_explicit(pprev, atomic_load_explicit(&l->hash_node, memory_order_relaxed),
			      memory_order_release);
}

static struct htab_elem *freelist_pop(struct bpf_htab *htab)
{
	struct htab_elem *l;

	map_lock(&htab->freelist_lock);
	l = htab->freelist;
	if (l)
		htab->freelist = l->free_next;
	map_unlock(&htab->freelist_lock);
	return l;
}

static void freelist_push(struct bpf_htab *htab, struct htab_elem *l)
{
	map_lock(&htab->freelist_lock);
	l->free_next = htab->freelist;
	htab->freelist = l;
	map_unlock(&htab->freelist_lock);
}

static void htab_elem_free_rcu(struct rcu_head *head)
{
	free((char *)head - offsetof(struct htab_elem, rcu));
}

static void htab_put_fd_value(struct bpf_htab *htab, struct htab_elem *l, bool need_defer)
{
	struct bpf_fd_elem *ptr;

	if (!htab->is_fd)
		return;
	ptr = __atomic_load_n(htab_elem_fd_slot(htab, l), __ATOMIC_RELAXED);
	htab->map.ops->map_fd_put_ptr(&htab->map, ptr, need_defer);
}

/* An element unlinked from the table (not LRU): give it back. Called without bucket locks. */
static void free_htab_elem(struct bpf_htab *htab, struct htab_elem *l)
{
	htab_put_fd_value(htab, l, true);
	if (htab->prealloc)
		freelist_push(htab, l);
	else
		urcu_memb_call_rcu(&l->rcu, htab_elem_free_rcu);
}

/* Reserves a place for one more element: -E2BIG when max_entries are in the table. */
static int htab_reserve_count(struct bpf_htab *htab)
{
	if (atomic_fetch_add(&htab->count, 1) >= htab->map.max_entries) {
		atomic_fetch_sub(&htab->count, 1);
		return -E2BIG;
	}
	return 0;
}

static void pcpu_copy_value(struct bpf_htab *htab, struct htab_elem *l, const void *value,
			    bool onallcpus)
{
	uint32_t size = bpf_map_percpu_size(&htab->map);

	if (!onallcpus) {
		/* copy true value_size bytes */
		memcpy(htab_elem_cpu_value(htab, l, bpf_map_this_cpu(&htab->map)), value,
		       htab->map.value_size);
		return;
	}
	for (uint32_t cpu = 0; cpu < htab->map.env->nr_cpus; cpu++)
		memcpy(htab_elem_cpu_value(htab, l, cpu), (const char *)value + size * cpu, size);
}

static void pcpu_init_value(struct bpf_htab *htab, struct htab_elem *l, const void *value,
			    bool onallcpus)
{
	uint32_t this_cpu;

	if (onallcpus) {
		pcpu_copy_value(htab, l, value, true);
		return;
	}
	/*
	 * Zero the other CPUs' values: a program has no way to set them, and must be able to
	 * rely on what it finds there.
	 */
	this_cpu = bpf_map_this_cpu(&htab->map);
	for (uint32_t cpu = 0; cpu < htab->map.env->nr_cpus; cpu++) {
		if (cpu == this_cpu)
			memcpy(htab_elem_cpu_value(htab, l, cpu), value, htab->map.value_size);
		else
			memset(htab_elem_cpu_value(htab, l, cpu), 0, htab->map.value_size);
	}
}

/*
 * A new element for `key` (alloc_htab_elem). Must be called with the bucket's lock held;
 * old_elem is the element it replaces, if any: then the table does not grow.
 */
static struct htab_elem *alloc_htab_elem(struct bpf_htab *htab, const void *key, const void *value,
					 uint32_t hash, bool onallcpus, struct htab_elem *old_elem,
					 int *err)
{
	uint32_t key_size = htab->map.key_size;
	struct htab_elem *l_new;

	if (!old_elem) {
		*err = htab_reserve_count(htab);
		if (*err)
			return NULL;
	}
	if (htab->prealloc) {
		/* Replacing takes one of the spare elements the pool has beyond max_entries. */
		l_new = freelist_pop(htab);
		*err = -E2BIG;
	} else {
		l_new = malloc(htab->elem_size);
		*err = -ENOMEM;
	}
	if (!l_new)
		goto err_unreserve;

	memcpy(l_new->key, key, key_size);
	/* Per-CPU areas start zeroed (alloc_percpu): bpf() reads their padding too. */
	if (htab->percpu && !htab->prealloc)
		memset(htab_elem_cpu_value(htab, l_new, 0), 0,
		       bpf_map_percpu_value_size(&htab->map));
	if (htab->percpu)
		pcpu_init_value(htab, l_new, value, onallcpus);
	else if (htab->is_fd)
		memcpy(htab_elem_value(l_new, key_size), value, sizeof(void *));
	else
		memcpy(htab_elem_value(l_new, key_size), value, htab->map.value_size);
	l_new->hash = hash;
	*err = 0;
	return l_new;

err_unreserve:
	if (!old_elem)
		atomic_fetch_sub(&htab->count, 1);
	return NULL;
}

static int check_flags(struct htab_elem *l_old, uint64_t map_flags)
{
	if (l_old && (map_flags & ~(uint64_t)BPF_F_LOCK) == BPF_NOEXIST)
		return -EEXIST; /* elem already exists */
	if (!l_old && (map_flags & ~(uint64_t)BPF_F_LOCK) == BPF_EXIST)
		return -ENOENT; /* elem doesn't exist, cannot update it */
	return 0;
}

/* ---- LRU --------------------------------------------------------------------------- */

static struct htab_lru *htab_lru_of(struct bpf_htab *htab, struct htab_elem *l)
{
	return &htab->lru[htab->nr_lru > 1 ? l->lru_cpu : 0];
}

/* Must be called with lru->lock held. */
static void lru_link_first(struct htab_lru *lru, struct htab_elem *l)
{
	l->lru_prev = NULL;
	l->lru_next = lru->first;
	if (lru->first)
		lru->first->lru_prev = l;
	else
		lru->last = l;
	lru->first = l;
}

/* Must be called with lru->lock held. */
static void lru_unlink(struct htab_lru *lru, struct htab_elem *l)
{
	if (l->lru_prev)
		l->lru_prev->lru_next = l->lru_next;
	else
		lru->first = l->lru_next;
	if (l->lru_next)
		l->lru_next->lru_prev = l->lru_prev;
	else
		lru->last = l->lru_prev;
	l->lru_prev = l->lru_next = NULL;
}

static void lru_push(struct htab_elem **list, struct htab_elem *l)
{
	l->free_next = *list;
	*list = l;
}

static struct htab_elem *lru_pop(struct htab_elem **list)
{
	struct htab_elem *l = *list;

	if (l)
		*list = l->free_next;
	return l;
}

/*
 * Evicting: unlinks tgt_l from its bucket if it is still in the table
 * (htab_lru_map_delete_node). Must be called with the LRU lock held.
 */
static bool htab_lru_map_delete_node(struct bpf_htab *htab, struct htab_elem *tgt_l)
{
	struct bucket *b = __select_bucket(htab, tgt_l->hash);
	bool found = false;
	uintptr_t n;

	map_lock(&b->lock);
	for (n = atomic_load_explicit(&b->head, memory_order_relaxed); !is_a_nulls(n);
	     n = atomic_load_explicit(&elem_of(n)->hash_node, memory_order_relaxed)) {
		if (elem_of(n) == tgt_l) {
			hlist_nulls_del_rcu(b, tgt_l);
			atomic_fetch_sub(&htab->count, 1);
			found = true;
			break;
		}
	}
	map_unlock(&b->lock);
	return found;
}

/*
 * Evicts up to nr_target elements into *dst, oldest first, giving a second chance to
 * those a program looked up since they were last passed over (__bpf_lru_list_shrink).
 * Must be called with lru->lock held. Elements whose delete is racing with us are left to
 * their deleter.
 */
static uint32_t htab_lru_shrink(struct bpf_htab *htab, struct htab_lru *lru, uint32_t nr_target,
				struct htab_elem **dst)
{
	struct htab_elem *l = lru->last, *prev;
	uint32_t nr = 0;

	while (l && nr < nr_target) {
		prev = l->lru_prev;
		if (atomic_exchange_explicit(&l->lru_ref, 0, memory_order_relaxed)) {
			lru_unlink(lru, l);
			lru_link_first(lru, l); /* visited once more, unreferenced, at the end */
		} else if (htab_lru_map_delete_node(htab, l)) {
			lru_unlink(lru, l);
			lru_push(dst, l);
			nr++;
		}
		l = prev;
	}
	return nr;
}

/*
 * A free element for a new key, evicting if needed (prealloc_lru_pop); it is on the
 * in-use list from now on. Must be called without bucket locks. NULL: -ENOMEM.
 */
static struct htab_elem *prealloc_lru_pop(struct bpf_htab *htab, const void *key, uint32_t hash)
{
	struct htab_lru *lru;
	struct htab_elem *l;
	uint32_t moved = 0;

	if (htab->nr_lru > 1) {
		lru = &htab->lru[bpf_map_this_cpu(&htab->map)];
		map_lock(&lru->lock);
		if (!lru->free)
			htab_lru_shrink(htab, lru, LRU_PERCPU_FREE_TARGET, &lru->free);
		l = lru_pop(&lru->free);
	} else {
		lru = &htab->lru[0];
		map_lock(&lru->lock);
		if (!lru->local_free) {
			/* bpf_lru_list_pop_free_to_local: free nodes first, then evict the rest. */
			while (moved < htab->lru_target_free && lru->free) {
				lru_push(&lru->local_free, lru_pop(&lru->free));
				moved++;
			}
			if (moved < htab->lru_target_free)
				htab_lru_shrink(htab, lru, htab->lru_target_free - moved,
						&lru->local_free);
		}
		l = lru_pop(&lru->local_free);
	}
	if (l) {
		memcpy(l->key, key, htab->map.key_size);
		l->hash = hash;
		atomic_store_explicit(&l->lru_ref, 0, memory_order_relaxed);
		lru_link_first(lru, l);
	}
	map_unlock(&lru->lock);
	return l;
}

/*
 * An element leaves the table or was never used (htab_lru_push_free). Must be called
 * without bucket locks. `unused`: it came from prealloc_lru_pop just now.
 */
static void htab_lru_push_free(struct bpf_htab *htab, struct htab_elem *l, bool unused)
{
	struct htab_lru *lru = htab_lru_of(htab, l);

	map_lock(&lru->lock);
	lru_unlink(lru, l);
	if (unused && htab->nr_lru == 1)
		lru_push(&lru->local_free, l);
	else
		lru_push(&lru->free, l);
	map_unlock(&lru->lock);
}

static void bpf_lru_node_set_ref(struct htab_elem *l)
{
	/* Only write when needed: the cache line is shared with concurrent readers. */
	if (!atomic_load_explicit(&l->lru_ref, memory_order_relaxed))
		atomic_store_explicit(&l->lru_ref, 1, memory_order_relaxed);
}

/* Back to the right free list: LRU maps have their own. Called without bucket locks. */
static void htab_release_elem(struct bpf_htab *htab, struct htab_elem *l)
{
	if (htab->is_lru)
		htab_lru_push_free(htab, l, false);
	else
		free_htab_elem(htab, l);
}

/* ---- Creation ------------------------------------------------------------------------ */

static bool type_is_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool type_is_lru(uint32_t type)
{
	return type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int htab_map_alloc_check(union bpf_attr *attr)
{
	bool percpu = type_is_percpu(attr->map_type);
	bool lru = type_is_lru(attr->map_type);
	/*
	 * percpu_lru means each CPU has its own LRU list; it has nothing to do with per-CPU
	 * values.
	 */
	bool percpu_lru = attr->map_flags & BPF_F_NO_COMMON_LRU;
	bool prealloc = !(attr->map_flags & BPF_F_NO_PREALLOC);
	int numa_node = bpf_map_attr_numa_node(attr);

	/* BPF_F_ZERO_SEED needs CAP_SYS_ADMIN (-EPERM): the syscall layer checks it first. */
	if (attr->map_flags & ~HTAB_CREATE_FLAG_MASK || !bpf_map_flags_access_ok(attr->map_flags))
		return -EINVAL;
	if (!lru && percpu_lru)
		return -EINVAL;
	if (lru && !prealloc)
		return -ENOTSUPP;
	if (numa_node != -1 && (percpu || percpu_lru))
		return -EINVAL;
	/* value_size == 0 may be allowed in the future to use map as a set */
	if (attr->max_entries == 0 || attr->key_size == 0 || attr->value_size == 0)
		return -EINVAL;
	/* Else user space could not reach the elements through bpf() (measured on 6.18). */
	if ((uint64_t)attr->key_size + attr->value_size >=
	    BPF_MAP_KMALLOC_MAX_SIZE - HTAB_KERNEL_ELEM_SIZE)
		return -E2BIG;
	/* percpu map value size is bound by PCPU_MIN_UNIT_SIZE */
	if (percpu && BPF_MAP_ROUND_UP(attr->value_size, 8) > BPF_MAP_PCPU_MIN_UNIT)
		return -E2BIG;
	return 0;
}

static uint32_t roundup_pow_of_two(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int htab_lru_init(struct bpf_htab *htab)
{
	uint32_t nr_cpus = htab->map.env->nr_cpus;
	uint32_t per_cpu;

	htab->nr_lru = (htab->map.map_flags & BPF_F_NO_COMMON_LRU) ? nr_cpus : 1;
	htab->lru = calloc(htab->nr_lru, sizeof(*htab->lru));
	if (!htab->lru)
		return -ENOMEM;
	for (uint32_t i = 0; i < htab->nr_lru; i++)
		map_lock_init(&htab->lru[i].lock);

	/* What one refill of the local free list brings: half a CPU's share, 1 to 128. */
	htab->lru_target_free = htab->map.max_entries / nr_cpus / 2;
	if (htab->lru_target_free < 1)
		htab->lru_target_free = 1;
	if (htab->lru_target_free > LRU_LOCAL_FREE_TARGET)
		htab->lru_target_free = LRU_LOCAL_FREE_TARGET;

	/* bpf_lru_populate: each CPU list gets an equal share, in order. */
	per_cpu = htab->nr_elems / htab->nr_lru;
	for (uint32_t i = htab->nr_elems; i-- > 0;) {
		struct htab_elem *l = get_htab_elem(htab, i);
		uint32_t cpu = per_cpu ? i / per_cpu : 0;

		if (cpu >= htab->nr_lru)
			cpu = htab->nr_lru - 1;
		l->lru_cpu = (uint16_t)cpu;
		lru_push(&htab->lru[cpu].free, l);
	}
	return 0;
}

static int prealloc_init(struct bpf_htab *htab)
{
	htab->nr_elems = htab->map.max_entries;
	if (htab_has_extra_elems(htab))
		htab->nr_elems += htab->map.env->nr_cpus;

	htab->elems = calloc(htab->nr_elems, htab->elem_size);
	if (!htab->elems)
		return -ENOMEM;
	if (htab->is_lru) {
		if (htab_lru_init(htab)) {
			free(htab->elems);
			return -ENOMEM;
		}
		return 0;
	}
	for (uint32_t i = htab->nr_elems; i-- > 0;)
		lru_push(&htab->freelist, get_htab_elem(htab, i));
	return 0;
}

static int htab_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			  struct bpf_map **mapp)
{
	uint32_t nr_cpus = env->nr_cpus;
	struct bpf_htab *htab;
	uint64_t value_area;
	int err;

	htab = calloc(1, sizeof(*htab));
	if (!htab)
		return -ENOMEM;
	bpf_map_init_from_attr(&htab->map, attr, env);
	htab->percpu = type_is_percpu(attr->map_type);
	htab->is_lru = type_is_lru(attr->map_type);
	htab->is_fd = attr->map_type == BPF_MAP_TYPE_HASH_OF_MAPS;
	htab->prealloc = !(attr->map_flags & BPF_F_NO_PREALLOC);
	map_lock_init(&htab->freelist_lock);

	if (attr->map_flags & BPF_F_NO_COMMON_LRU) {
		/* Every CPU's list gets at least one element, and the same number. */
		uint64_t m = BPF_MAP_ROUND_UP((uint64_t)attr->max_entries, nr_cpus);

		if (m > UINT32_MAX)
			m = attr->max_entries / nr_cpus * nr_cpus;
		htab->map.max_entries = (uint32_t)m;
	}

	/* The bucket count is a power of two and must not overflow u32 arithmetic. */
	err = -E2BIG;
	if (htab->map.max_entries > 1UL << 31)
		goto err_free_htab;
	htab->n_buckets = roundup_pow_of_two(htab->map.max_entries);
	if (htab->n_buckets > UINT32_MAX / HTAB_KERNEL_BUCKET_SIZE)
		goto err_free_htab;

	value_area = htab->percpu ? (uint64_t)bpf_map_percpu_size(&htab->map) * nr_cpus
				  : BPF_MAP_ROUND_UP(attr->value_size, 8);
	htab->elem_size = (uint32_t)(sizeof(struct htab_elem) +
				     BPF_MAP_ROUND_UP(attr->key_size, 8) + value_area);

	err = -ENOMEM;
	htab->buckets = calloc(htab->n_buckets, sizeof(*htab->buckets));
	if (!htab->buckets)
		goto err_free_htab;
	for (uint32_t i = 0; i < htab->n_buckets; i++) {
		atomic_init(&htab->buckets[i].head, NULLS_MARKER(i));
		map_lock_init(&htab->buckets[i].lock);
	}

	if (attr->map_flags & BPF_F_ZERO_SEED)
		htab->hashrnd = 0;
	else if (getrandom(&htab->hashrnd, sizeof(htab->hashrnd), 0) != sizeof(htab->hashrnd))
		htab->hashrnd = (uint32_t)(uintptr_t)htab ^ 0x9e3779b9u;

	if (htab->prealloc) {
		err = prealloc_init(htab);
		if (err)
			goto err_free_buckets;
	}
	*mapp = &htab->map;
	return 0;

err_free_buckets:
	free(htab->buckets);
err_free_htab:
	free(htab);
	return err;
}

/* Malloc'ed elements still in the table; no reader is left. */
static void delete_all_elements(struct bpf_htab *htab)
{
	for (uint32_t i = 0; i < htab->n_buckets; i++) {
		uintptr_t n = atomic_load_explicit(&htab->buckets[i].head, memory_order_relaxed);

		while (!is_a_nulls(n)) {
			struct htab_elem *l = elem_of(n);

			n = atomic_load_explicit(&l->hash_node, memory_order_relaxed);
			free(l);
		}
	}
}

static void htab_map_free(struct bpf_map *map)
{
	struct bpf_htab *htab = to_htab(map);

	/*
	 * Elements a deleter handed to call_rcu free themselves later; they do not touch the
	 * table, so it may go now.
	 */
	if (htab->prealloc)
		free(htab->elems);
	else
		delete_all_elements(htab);
	free(htab->lru);
	free(htab->buckets);
	free(htab);
}

/*
 * The kernel's htab_map_mem_usage, to the byte (fdinfo "memlock", measured on 6.18): its
 * elements keep per-CPU values apart (a pointer in the element), and the non-preallocated
 * ones carry an llist node.
 */
static uint64_t htab_map_mem_usage(const struct bpf_map *map)
{
	struct bpf_htab *htab = to_htab(map);
	uint64_t nr_cpus = map->env->nr_cpus, percpu_size = bpf_map_percpu_size(map);
	uint64_t elem_size = HTAB_KERNEL_ELEM_SIZE + BPF_MAP_ROUND_UP(map->key_size, 8) +
			     (htab->percpu ? sizeof(void *) : percpu_size);
	uint64_t usage =
		HTAB_KERNEL_HTAB_SIZE + HTAB_KERNEL_BUCKET_SIZE * (uint64_t)htab->n_buckets;
	uint64_t num_entries;

	if (htab->prealloc) {
		num_entries = htab->nr_elems;
		usage += elem_size * num_entries;
		if (htab->percpu)
			usage += percpu_size * nr_cpus * num_entries;
		else if (!htab->is_lru)
			usage += sizeof(void *) * nr_cpus; /* the per-CPU extra element pointers */
		return usage;
	}
	num_entries = atomic_load(&htab->count);
	usage += (elem_size + HTAB_KERNEL_LLIST_NODE_SIZE) * num_entries;
	if (htab->percpu) {
		usage += (HTAB_KERNEL_LLIST_NODE_SIZE + sizeof(void *)) * num_entries;
		usage += percpu_size * nr_cpus * num_entries;
	}
	return usage;
}

/* ---- Lookups ------------------------------------------------------------------------- */

/* Must be called with the RCU read lock held. */
static struct htab_elem *__htab_map_lookup_elem(struct bpf_map *map, const void *key)
{
	struct bpf_htab *htab = to_htab(map);
	uint32_t hash = htab_map_hash(key, map->key_size, htab->hashrnd);

	return lookup_nulls_elem_raw(htab, __select_bucket(htab, hash), hash, key, map->key_size);
}

static void *htab_map_lookup_elem(struct bpf_map *map, const void *key)
{
	struct htab_elem *l = __htab_map_lookup_elem(map, key);

	return l ? htab_elem_value(l, map->key_size) : NULL;
}

static void *htab_lru_map_lookup_elem(struct bpf_map *map, const void *key)
{
	struct htab_elem *l = __htab_map_lookup_elem(map, key);

	if (!l)
		return NULL;
	bpf_lru_node_set_ref(l);
	return htab_elem_value(l, map->key_size);
}

/* User space walking the map must not disturb the eviction order. */
static void *htab_lru_map_lookup_elem_sys(struct bpf_map *map, const void *key)
{
	return htab_map_lookup_elem(map, key);
}

static void *htab_percpu_map_lookup_elem(struct bpf_map *map, const void *key)
{
	struct htab_elem *l = __htab_map_lookup_elem(map, key);

	if (!l)
		return NULL;
	if (to_htab(map)->is_lru)
		bpf_lru_node_set_ref(l);
	return htab_elem_cpu_value(to_htab(map), l, bpf_map_this_cpu(map));
}

static void *htab_percpu_map_lookup_percpu_elem(struct bpf_map *map, const void *key, uint32_t cpu)
{
	struct htab_elem *l;

	if (cpu >= map->env->nr_cpus)
		return NULL;
	l = __htab_map_lookup_elem(map, key);
	if (!l)
		return NULL;
	if (to_htab(map)->is_lru)
		bpf_lru_node_set_ref(l);
	return htab_elem_cpu_value(to_htab(map), l, cpu);
}

/* Syscall side of per-CPU hashes: every CPU's rounded value (bpf_percpu_hash_copy). */
static int htab_percpu_map_copy_value(struct bpf_map *map, const void *key, void *value,
				      uint64_t flags)
{
	struct htab_elem *l;
	int err = -ENOENT;

	(void)flags;
	urcu_memb_read_lock();
	l = __htab_map_lookup_elem(map, key);
	if (l) {
		/* No LRU reference: a user-space walk must not change what gets evicted. */
		memcpy(value, htab_elem_cpu_value(to_htab(map), l, 0),
		       bpf_map_percpu_value_size(map));
		err = 0;
	}
	urcu_memb_read_unlock();
	return err;
}

static int htab_map_get_next_key(struct bpf_map *map, const void *key, void *next_key)
{
	struct bpf_htab *htab = to_htab(map);
	uint32_t hash, key_size = map->key_size, i = 0;
	struct htab_elem *l;
	uintptr_t n;

	if (!key)
		goto find_first_elem;

	hash = htab_map_hash(key, key_size, htab->hashrnd);
	l = lookup_nulls_elem_raw(htab, __select_bucket(htab, hash), hash, key, key_size);
	if (!l)
		goto find_first_elem;

	/* key was found, get next key in the same bucket */
	n = chain_next(l);
	if (!is_a_nulls(n)) {
		memcpy(next_key, elem_of(n)->key, key_size);
		return 0;
	}
	/* no more elements in this hash list, go to the next bucket */
	i = (hash & (htab->n_buckets - 1)) + 1;

find_first_elem:
	for (; i < htab->n_buckets; i++) {
		n = atomic_load_explicit(&htab->buckets[i].head, memory_order_acquire);
		if (!is_a_nulls(n)) {
			memcpy(next_key, elem_of(n)->key, key_size);
			return 0;
		}
	}
	/* iterated over all buckets and all elements */
	return -ENOENT;
}

/* ---- Updates and deletes ------------------------------------------------------------- */

static long htab_map_update_elem(struct bpf_map *map, const void *key, const void *value,
				 uint64_t map_flags)
{
	struct bpf_htab *htab = to_htab(map);
	struct htab_elem *l_new, *l_old;
	uint32_t hash;
	struct bucket *b;
	int ret;

	if ((map_flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL; /* unknown flags */
	if (map_flags & BPF_F_LOCK)
		return -EINVAL; /* no bpf_spin_lock without BTF */

	hash = htab_map_hash(key, map->key_size, htab->hashrnd);
	b = __select_bucket(htab, hash);

	map_lock(&b->lock);
	l_old = lookup_elem_raw(b, hash, key, map->key_size);
	ret = check_flags(l_old, map_flags);
	if (ret)
		goto out_unlock;
	l_new = alloc_htab_elem(htab, key, value, hash, false, l_old, &ret);
	if (!l_new)
		goto out_unlock; /* all pre-allocated elements are in use or memory exhausted */

	/* add new element to the head of the list, so that concurrent search finds it first */
	hlist_nulls_add_head_rcu(b, l_new);
	if (l_old)
		hlist_nulls_del_rcu(b, l_old);
	map_unlock(&b->lock);
	if (l_old)
		free_htab_elem(htab, l_old);
	return 0;

out_unlock:
	map_unlock(&b->lock);
	return ret;
}

static long htab_lru_map_update_elem(struct bpf_map *map, const void *key, const void *value,
				     uint64_t map_flags)
{
	struct bpf_htab *htab = to_htab(map);
	struct htab_elem *l_new, *l_old;
	uint32_t hash;
	struct bucket *b;
	int ret;

	if (map_flags > BPF_EXIST)
		return -EINVAL; /* unknown flags */

	hash = htab_map_hash(key, map->key_size, htab->hashrnd);
	b = __select_bucket(htab, hash);

	/* Eviction takes bucket locks: get the new element before taking ours. */
	l_new = prealloc_lru_pop(htab, key, hash);
	if (!l_new)
		return -ENOMEM;
	memcpy(htab_elem_value(l_new, map->key_size), value, map->value_size);

	map_lock(&b->lock);
	l_old = lookup_elem_raw(b, hash, key, map->key_size);
	ret = check_flags(l_old, map_flags);
	if (ret)
		goto out_unlock;
	hlist_nulls_add_head_rcu(b, l_new);
	if (l_old) {
		bpf_lru_node_set_ref(l_new);
		hlist_nulls_del_rcu(b, l_old);
	} else {
		atomic_fetch_add(&htab->count, 1);
	}
out_unlock:
	map_unlock(&b->lock);

	if (ret)
		htab_lru_push_free(htab, l_new, true);
	else if (l_old)
		htab_lru_push_free(htab, l_old, false);
	return ret;
}

static int htab_map_check_update_flags(bool onallcpus, uint64_t map_flags)
{
	if (!onallcpus && map_flags > BPF_EXIST)
		return -EINVAL;
	if (onallcpus && ((map_flags & BPF_F_LOCK) || map_flags > BPF_EXIST))
		return -EINVAL;
	return 0;
}

/* Per-CPU values and inner maps change in place (htab_map_update_elem_in_place). */
static long htab_map_update_elem_in_place(struct bpf_map *map, const void *key, const void *value,
					  uint64_t map_flags, bool onallcpus)
{
	struct bpf_htab *htab = to_htab(map);
	struct bpf_fd_elem *old_map_ptr = NULL;
	struct htab_elem *l_new, *l_old;
	uint32_t hash;
	struct bucket *b;
	int ret;

	ret = htab_map_check_update_flags(onallcpus, map_flags);
	if (ret)
		return ret;

	hash = htab_map_hash(key, map->key_size, htab->hashrnd);
	b = __select_bucket(htab, hash);

	map_lock(&b->lock);
	l_old = lookup_elem_raw(b, hash, key, map->key_size);
	ret = check_flags(l_old, map_flags);
	if (ret)
		goto out_unlock;
	if (l_old) {
		if (htab->percpu) {
			pcpu_copy_value(htab, l_old, value, onallcpus);
		} else {
			struct bpf_fd_elem *new_ptr;

			memcpy(&new_ptr, value, sizeof(new_ptr));
			old_map_ptr = __atomic_exchange_n(htab_elem_fd_slot(htab, l_old), new_ptr,
							  __ATOMIC_ACQ_REL);
		}
	} else {
		l_new = alloc_htab_elem(htab, key, value, hash, onallcpus, NULL, &ret);
		if (!l_new)
			goto out_unlock;
		hlist_nulls_add_head_rcu(b, l_new);
	}
out_unlock:
	map_unlock(&b->lock);
	if (old_map_ptr)
		map->ops->map_fd_put_ptr(map, old_map_ptr, true);
	return ret;
}

static long __htab_lru_percpu_map_update_elem(struct bpf_map *map, const void *key,
					      const void *value, uint64_t map_flags, bool onallcpus)
{
	struct bpf_htab *htab = to_htab(map);
	struct htab_elem *l_new = NULL, *l_old;
	uint32_t hash;
	struct bucket *b;
	int ret;

	ret = htab_map_check_update_flags(onallcpus, map_flags);
	if (ret)
		return ret;

	hash = htab_map_hash(key, map->key_size, htab->hashrnd);
	b = __select_bucket(htab, hash);

	/* Eviction takes bucket locks: get the new element before taking ours. */
	if (map_flags != BPF_EXIST) {
		l_new = prealloc_lru_pop(htab, key, hash);
		if (!l_new)
			return -ENOMEM;
	}

	map_lock(&b->lock);
	l_old = lookup_elem_raw(b, hash, key, map->key_size);
	ret = check_flags(l_old, map_flags);
	if (ret)
		goto out_unlock;
	if (l_old) {
		bpf_lru_node_set_ref(l_old);
		/* per-cpu hash map can update value in-place */
		pcpu_copy_value(htab, l_old, value, onallcpus);
	} else {
		pcpu_init_value(htab, l_new, value, onallcpus);
		hlist_nulls_add_head_rcu(b, l_new);
		atomic_fetch_add(&htab->count, 1);
		l_new = NULL;
	}
out_unlock:
	map_unlock(&b->lock);
	if (l_new)
		htab_lru_push_free(htab, l_new, true);
	return ret;
}

static long htab_percpu_map_update_elem(struct bpf_map *map, const void *key, const void *value,
					uint64_t map_flags)
{
	return htab_map_update_elem_in_place(map, key, value, map_flags, false);
}

static long htab_lru_percpu_map_update_elem(struct bpf_map *map, const void *key, const void *value,
					    uint64_t map_flags)
{
	return __htab_lru_percpu_map_update_elem(map, key, value, map_flags, false);
}

/* Syscall side of per-CPU hashes: one rounded value per CPU (bpf_percpu_hash_update). */
static int htab_percpu_map_update_value(struct bpf_map *map, const void *key, const void *value,
					uint64_t map_flags)
{
	int ret;

	urcu_memb_read_lock();
	if (to_htab(map)->is_lru)
		ret = (int)__htab_lru_percpu_map_update_elem(map, key, value, map_flags, true);
	else
		ret = (int)htab_map_update_elem_in_place(map, key, value, map_flags, true);
	urcu_memb_read_unlock();
	return ret;
}

static long htab_map_delete_elem(struct bpf_map *map, const void *key)
{
	struct bpf_htab *htab = to_htab(map);
	uint32_t hash = htab_map_hash(key, map->key_size, htab->hashrnd);
	struct bucket *b = __select_bucket(htab, hash);
	struct htab_elem *l;

	map_lock(&b->lock);
	l = lookup_elem_raw(b, hash, key, map->key_size);
	if (l) {
		hlist_nulls_del_rcu(b, l);
		atomic_fetch_sub(&htab->count, 1);
	}
	map_unlock(&b->lock);
	if (!l)
		return -ENOENT;
	htab_release_elem(htab, l);
	return 0;
}

static int htab_map_lookup_and_delete_elem(struct bpf_map *map, const void *key, void *value,
					   uint64_t flags)
{
	struct bpf_htab *htab = to_htab(map);
	uint32_t hash = htab_map_hash(key, map->key_size, htab->hashrnd);
	struct bucket *b = __select_bucket(htab, hash);
	struct htab_elem *l;

	(void)flags;
	map_lock(&b->lock);
	l = lookup_elem_raw(b, hash, key, map->key_size);
	if (!l) {
		map_unlock(&b->lock);
		return -ENOENT;
	}
	if (htab->percpu)
		memcpy(value, htab_elem_cpu_value(htab, l, 0), bpf_map_percpu_value_size(map));
	else
		memcpy(value, htab_elem_value(l, map->key_size), map->value_size);
	hlist_nulls_del_rcu(b, l);
	atomic_fetch_sub(&htab->count, 1);
	map_unlock(&b->lock);

	htab_release_elem(htab, l);
	return 0;
}

/* ---- Batches (__htab_map_lookup_and_delete_batch) ------------------------------------- */

/* Copies l's key and value (as bpf() sees it) into the batch buffers. RCU read lock held. */
static void htab_batch_copy(struct bpf_htab *htab, struct htab_elem *l, void *dst_key,
			    void *dst_val)
{
	struct bpf_map *map = &htab->map;

	memcpy(dst_key, l->key, map->key_size);
	if (htab->percpu) {
		memcpy(dst_val, htab_elem_cpu_value(htab, l, 0), bpf_map_percpu_value_size(map));
	} else if (htab->is_fd) {
		/* The value user space sees is the id of the inner map. */
		uint32_t id = map->ops->map_fd_sys_lookup_elem(
			__atomic_load_n(htab_elem_fd_slot(htab, l), __ATOMIC_ACQUIRE));

		memcpy(dst_val, &id, sizeof(id));
	} else {
		memcpy(dst_val, htab_elem_value(l, map->key_size), map->value_size);
	}
}

static uint32_t bucket_count(struct bucket *b)
{
	uint32_t cnt = 0;

	for (uintptr_t n = atomic_load_explicit(&b->head, memory_order_relaxed); !is_a_nulls(n);
	     n = atomic_load_explicit(&elem_of(n)->hash_node, memory_order_relaxed))
		cnt++;
	return cnt;
}

/*
 * Whole buckets at a time: in_batch/out_batch are bucket indices; a bucket that does not
 * fit in what is left of count ends the batch (-ENOSPC if it is the first); -ENOENT once
 * the last bucket is done.
 */
static int __htab_map_lookup_and_delete_batch(struct bpf_map *map, union bpf_attr *attr,
					      const struct bpf_uaccess *ua, bool do_delete)
{
	struct bpf_htab *htab = to_htab(map);
	uint32_t batch, max_count, bucket_size, bucket_cnt, total, key_size, value_size;
	struct htab_elem *node_to_free = NULL, *l;
	char *keys = NULL, *values = NULL, *dst_key, *dst_val;
	struct bucket *b;
	int ret = 0;

	if (attr->batch.elem_flags)
		return -EINVAL; /* BPF_F_LOCK needs a bpf_spin_lock: none without BTF */
	if (attr->batch.flags)
		return -EINVAL;

	max_count = attr->batch.count;
	if (!max_count)
		return 0;
	attr->batch.count = 0;

	batch = 0;
	if (attr->batch.in_batch &&
	    ua->copy_from_user(ua, &batch, attr->batch.in_batch, sizeof(batch)))
		return -EFAULT;
	if (batch >= htab->n_buckets)
		return -ENOENT;

	key_size = map->key_size;
	value_size = bpf_map_value_size(map);
	total = 0;
	/* buckets of hash tables from 10 to 1000 entries hold up to 5 entries */
	bucket_size = 5;

alloc:
	/* The user copies happen outside the RCU read lock: buffer a whole bucket. */
	keys = malloc((size_t)key_size * bucket_size);
	values = malloc((size_t)value_size * bucket_size);
	if (!keys || !values) {
		ret = -ENOMEM;
		goto after_loop;
	}

again:
	urcu_memb_read_lock();
	dst_key = keys;
	dst_val = values;
	b = &htab->buckets[batch];
	map_lock(&b->lock);
	bucket_cnt = bucket_count(b);

	if (bucket_cnt > (max_count - total)) {
		if (total == 0)
			ret = -ENOSPC;
		map_unlock(&b->lock);
		urcu_memb_read_unlock();
		goto after_loop;
	}
	if (bucket_cnt > bucket_size) {
		bucket_size = bucket_cnt;
		map_unlock(&b->lock);
		urcu_memb_read_unlock();
		free(keys);
		free(values);
		goto alloc;
	}

	for (uintptr_t n = atomic_load_explicit(&b->head, memory_order_relaxed); !is_a_nulls(n);) {
		l = elem_of(n);
		n = atomic_load_explicit(&l->hash_node, memory_order_relaxed);
		htab_batch_copy(htab, l, dst_key, dst_val);
		if (do_delete) {
			hlist_nulls_del_rcu(b, l);
			atomic_fetch_sub(&htab->count, 1);
			/* Freeing takes other locks: after the bucket lock is released. */
			l->batch_flink = node_to_free;
			node_to_free = l;
		}
		dst_key += key_size;
		dst_val += value_size;
	}
	map_unlock(&b->lock);
	urcu_memb_read_unlock();

	while (node_to_free) {
		l = node_to_free;
		node_to_free = node_to_free->batch_flink;
		htab_release_elem(htab, l);
	}

	if (bucket_cnt && (ua->copy_to_user(ua, attr->batch.keys + (uint64_t)total * key_size, keys,
					    (size_t)key_size * bucket_cnt) ||
			   ua->copy_to_user(ua, attr->batch.values + (uint64_t)total * value_size,
					    values, (size_t)value_size * bucket_cnt))) {
		ret = -EFAULT;
		goto after_loop;
	}

	total += bucket_cnt;
	batch++;
	if (batch >= htab->n_buckets) {
		ret = -ENOENT;
		goto after_loop;
	}
	goto again;

after_loop:
	if (ret == -EFAULT)
		goto out;

	/* copy # of entries and next batch */
	if (ua->copy_to_user(ua, attr->batch.out_batch, &batch, sizeof(batch)))
		ret = -EFAULT;
	else
		attr->batch.count = total;
out:
	free(keys);
	free(values);
	return ret;
}

static int htab_map_lookup_batch(struct bpf_map *map, union bpf_attr *attr,
				 const struct bpf_uaccess *ua)
{
	return __htab_map_lookup_and_delete_batch(map, attr, ua, false);
}

static int htab_map_lookup_and_delete_batch(struct bpf_map *map, union bpf_attr *attr,
					    const struct bpf_uaccess *ua)
{
	return __htab_map_lookup_and_delete_batch(map, attr, ua, true);
}

/* ---- HASH_OF_MAPS -------------------------------------------------------------------- */

static int fd_htab_map_alloc_check(union bpf_attr *attr)
{
	if (attr->value_size != sizeof(uint32_t))
		return -EINVAL;
	return htab_map_alloc_check(attr);
}

static int htab_of_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			     struct bpf_map **mapp)
{
	return bpf_map_of_maps_alloc(attr, env, mapp, htab_map_alloc);
}

static void fd_htab_map_free(struct bpf_map *map)
{
	struct bpf_htab *htab = to_htab(map);

	/* No program can run any more: drop the inner maps without a grace period. */
	for (uint32_t i = 0; i < htab->n_buckets; i++) {
		uintptr_t n = atomic_load_explicit(&htab->buckets[i].head, memory_order_relaxed);

		for (; !is_a_nulls(n);
		     n = atomic_load_explicit(&elem_of(n)->hash_node, memory_order_relaxed))
			htab_put_fd_value(htab, elem_of(n), false);
	}
	htab_map_free(map);
}

static void *htab_of_map_lookup_elem(struct bpf_map *map, const void *key)
{
	struct htab_elem *l = __htab_map_lookup_elem(map, key);
	struct bpf_fd_elem *elem;

	if (!l)
		return NULL;
	elem = __atomic_load_n(htab_elem_fd_slot(to_htab(map), l), __ATOMIC_ACQUIRE);
	return elem->ptr;
}

/* Syscall lookup: the id of the inner map (bpf_fd_htab_map_lookup_elem). */
static int fd_htab_map_copy_value(struct bpf_map *map, const void *key, void *value, uint64_t flags)
{
	struct htab_elem *l;
	int err = -ENOENT;
	uint32_t id;

	(void)flags;
	urcu_memb_read_lock();
	l = __htab_map_lookup_elem(map, key);
	if (l) {
		id = map->ops->map_fd_sys_lookup_elem(
			__atomic_load_n(htab_elem_fd_slot(to_htab(map), l), __ATOMIC_ACQUIRE));
		memcpy(value, &id, sizeof(id));
		err = 0;
	}
	urcu_memb_read_unlock();
	return err;
}

/* Syscall update: the fd is resolved before the flags are looked at (measured on 6.18). */
static int fd_htab_map_update_value(struct bpf_map *map, const void *key, const void *value,
				    uint64_t map_flags)
{
	uint32_t ufd;
	void *ptr;
	int ret;

	memcpy(&ufd, value, sizeof(ufd));
	ret = map->ops->map_fd_get_ptr(map, (int)ufd, &ptr);
	if (ret)
		return ret;
	urcu_memb_read_lock();
	ret = (int)htab_map_update_elem_in_place(map, key, &ptr, map_flags, false);
	urcu_memb_read_unlock();
	if (ret)
		map->ops->map_fd_put_ptr(map, ptr, false);
	return ret;
}

/* Programs cannot write map-in-map (the verifier's check_map_func_compatibility). */
static long fd_htab_map_update_elem(struct bpf_map *map, const void *key, const void *value,
				    uint64_t flags)
{
	(void)map, (void)key, (void)value, (void)flags;
	return -EINVAL;
}

/* ---- Ops tables ---------------------------------------------------------------------- */

const struct bpf_map_ops htab_map_ops = {
	.map_alloc_check = htab_map_alloc_check,
	.map_alloc = htab_map_alloc,
	.map_free = htab_map_free,
	.map_meta_equal = bpf_map_meta_equal,
	.map_mem_usage = htab_map_mem_usage,
	.map_lookup_elem = htab_map_lookup_elem,
	.map_update_elem = htab_map_update_elem,
	.map_delete_elem = htab_map_delete_elem,
	.map_get_next_key = htab_map_get_next_key,
	.map_lookup_and_delete_elem = htab_map_lookup_and_delete_elem,
	.map_lookup_batch = htab_map_lookup_batch,
	.map_lookup_and_delete_batch = htab_map_lookup_and_delete_batch,
	.map_update_batch = generic_map_update_batch,
	.map_delete_batch = generic_map_delete_batch,
};

const struct bpf_map_ops htab_lru_map_ops = {
	.map_alloc_check = htab_map_alloc_check,
	.map_alloc = htab_map_alloc,
	.map_free = htab_map_free,
	.map_meta_equal = bpf_map_meta_equal,
	.map_mem_usage = htab_map_mem_usage,
	.map_lookup_elem = htab_lru_map_lookup_elem,
	.map_lookup_elem_sys_only = htab_lru_map_lookup_elem_sys,
	.map_update_elem = htab_lru_map_update_elem,
	.map_delete_elem = htab_map_delete_elem,
	.map_get_next_key = htab_map_get_next_key,
	.map_lookup_and_delete_elem = htab_map_lookup_and_delete_elem,
	.map_lookup_batch = htab_map_lookup_batch,
	.map_lookup_and_delete_batch = htab_map_lookup_and_delete_batch,
	.map_update_batch = generic_map_update_batch,
	.map_delete_batch = generic_map_delete_batch,
};

const struct bpf_map_ops htab_percpu_map_ops = {
	.map_alloc_check = htab_map_alloc_check,
	.map_alloc = htab_map_alloc,
	.map_free = htab_map_free,
	.map_meta_equal = bpf_map_meta_equal,
	.map_mem_usage = htab_map_mem_usage,
	.map_sys_value_size = bpf_map_percpu_value_size,
	.map_lookup_elem = htab_percpu_map_lookup_elem,
	.map_update_elem = htab_percpu_map_update_elem,
	.map_delete_elem = htab_map_delete_elem,
	.map_lookup_percpu_elem = htab_percpu_map_lookup_percpu_elem,
	.map_get_next_key = htab_map_get_next_key,
	.map_copy_value = htab_percpu_map_copy_value,
	.map_update_value = htab_percpu_map_update_value,
	.map_lookup_and_delete_elem = htab_map_lookup_and_delete_elem,
	.map_lookup_batch = htab_map_lookup_batch,
	.map_lookup_and_delete_batch = htab_map_lookup_and_delete_batch,
	.map_update_batch = generic_map_update_batch,
	.map_delete_batch = generic_map_delete_batch,
};

const struct bpf_map_ops htab_lru_percpu_map_ops = {
	.map_alloc_check = htab_map_alloc_check,
	.map_alloc = htab_map_alloc,
	.map_free = htab_map_free,
	.map_meta_equal = bpf_map_meta_equal,
	.map_mem_usage = htab_map_mem_usage,
	.map_sys_value_size = bpf_map_percpu_value_size,
	.map_lookup_elem = htab_percpu_map_lookup_elem,
	.map_update_elem = htab_lru_percpu_map_update_elem,
	.map_delete_elem = htab_map_delete_elem,
	.map_lookup_percpu_elem = htab_percpu_map_lookup_percpu_elem,
	.map_get_next_key = htab_map_get_next_key,
	.map_copy_value = htab_percpu_map_copy_value,
	.map_update_value = htab_percpu_map_update_value,
	.map_lookup_and_delete_elem = htab_map_lookup_and_delete_elem,
	.map_lookup_batch = htab_map_lookup_batch,
	.map_lookup_and_delete_batch = htab_map_lookup_and_delete_batch,
	.map_update_batch = generic_map_update_batch,
	.map_delete_batch = generic_map_delete_batch,
};

const struct bpf_map_ops htab_of_maps_map_ops = {
	.map_alloc_check = fd_htab_map_alloc_check,
	.map_alloc = htab_of_map_alloc,
	.map_free = fd_htab_map_free,
	.map_mem_usage = htab_map_mem_usage,
	.map_sys_value_size = bpf_map_fd_value_size,
	.map_lookup_elem = htab_of_map_lookup_elem,
	.map_update_elem = fd_htab_map_update_elem,
	.map_delete_elem = htab_map_delete_elem,
	.map_get_next_key = htab_map_get_next_key,
	.map_copy_value = fd_htab_map_copy_value,
	.map_update_value = fd_htab_map_update_value,
	.map_fd_get_ptr = bpf_map_fd_get_ptr,
	.map_fd_put_ptr = bpf_map_fd_put_ptr,
	.map_fd_sys_lookup_elem = bpf_map_fd_sys_lookup_elem,
	.map_lookup_batch = htab_map_lookup_batch,
	.map_lookup_and_delete_batch = htab_map_lookup_and_delete_batch,
	.map_update_batch = generic_map_update_batch,
	.map_delete_batch = generic_map_delete_batch,
};
