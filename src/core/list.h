/* SPDX-License-Identifier: MIT */
/*
 * list.h - intrusive lists with the kernel's names and semantics, so that code ported from the
 * kernel reads the same. struct list_head is circular and doubly linked; its _rcu variants let
 * readers walk a list under rcu_read_lock() while one writer at a time (holding the list's
 * lock) changes it. struct llist_head is a lock-free push-only stack whose consumer takes every
 * entry at once: put_net() and cgroup_put() use it because they may run in any context.
 */
#ifndef NSBPF_CORE_LIST_H
#define NSBPF_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "rcu.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)                                                                       \
	{                                                                                          \
		&(name), &(name)                                                                   \
	}
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list;
	list->prev = list;
}

static inline void __list_add(struct list_head *entry, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = entry;
	entry->next = next;
	entry->prev = prev;
	WRITE_ONCE(prev->next, entry);
}

static inline void list_add(struct list_head *entry, struct list_head *head)
{
	__list_add(entry, head, head->next);
}

static inline void list_add_tail(struct list_head *entry, struct list_head *head)
{
	__list_add(entry, head->prev, head);
}

static inline void __list_del(struct list_head *prev, struct list_head *next)
{
	next->prev = prev;
	WRITE_ONCE(prev->next, next);
}

/* Leaves the entry unlinked and poisoned: a second list_del() faults instead of corrupting. */
static inline void list_del(struct list_head *entry)
{
	__list_del(entry->prev, entry->next);
	entry->next = NULL;
	entry->prev = NULL;
}

static inline void list_del_init(struct list_head *entry)
{
	__list_del(entry->prev, entry->next);
	INIT_LIST_HEAD(entry);
}

static inline void list_move_tail(struct list_head *entry, struct list_head *head)
{
	__list_del(entry->prev, entry->next);
	list_add_tail(entry, head);
}

static inline bool list_empty(const struct list_head *head)
{
	return READ_ONCE(head->next) == head;
}

#define list_entry(ptr, type, member)	    container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_last_entry(ptr, type, member)  list_entry((ptr)->prev, type, member)
#define list_next_entry(pos, member)	    list_entry((pos)->member.next, typeof(*(pos)), member)
#define list_prev_entry(pos, member)	    list_entry((pos)->member.prev, typeof(*(pos)), member)

#define list_for_each_entry(pos, head, member)                                                     \
	for (pos = list_first_entry(head, typeof(*pos), member); &pos->member != (head);           \
	     pos = list_next_entry(pos, member))

#define list_for_each_entry_reverse(pos, head, member)                                             \
	for (pos = list_last_entry(head, typeof(*pos), member); &pos->member != (head);            \
	     pos = list_prev_entry(pos, member))

#define list_for_each_entry_safe(pos, n, head, member)                                             \
	for (pos = list_first_entry(head, typeof(*pos), member), n = list_next_entry(pos, member); \
	     &pos->member != (head); pos = n, n = list_next_entry(n, member))

#define list_for_each_entry_safe_reverse(pos, n, head, member)                                     \
	for (pos = list_last_entry(head, typeof(*pos), member), n = list_prev_entry(pos, member);  \
	     &pos->member != (head); pos = n, n = list_prev_entry(n, member))

/* The entries before @start (a node of the list, or @head itself for all), last to first. */
#define list_for_each_entry_before_reverse(pos, start, head, member)                               \
	for (pos = list_entry((start)->prev, typeof(*pos), member); &pos->member != (head);        \
	     pos = list_prev_entry(pos, member))

/* Publishes a fully initialised entry to concurrent RCU readers. */
static inline void list_add_tail_rcu(struct list_head *entry, struct list_head *head)
{
	struct list_head *prev = head->prev;

	entry->next = head;
	entry->prev = prev;
	rcu_assign_pointer(prev->next, entry);
	head->prev = entry;
}

/*
 * Unlinks an entry that RCU readers may be standing on: its ->next stays valid so they can
 * walk on. Free it only after a grace period.
 */
static inline void list_del_rcu(struct list_head *entry)
{
	__list_del(entry->prev, entry->next);
	entry->prev = NULL;
}

#define list_for_each_entry_rcu(pos, head, member)                                                 \
	for (pos = list_entry(rcu_dereference((head)->next), typeof(*pos), member);                \
	     &pos->member != (head);                                                               \
	     pos = list_entry(rcu_dereference(pos->member.next), typeof(*pos), member))

struct llist_node {
	struct llist_node *next;
};

struct llist_head {
	struct llist_node *first;
};

static inline void init_llist_head(struct llist_head *list)
{
	list->first = NULL;
}

/* Pushes @node; returns true if the list was empty, i.e. the consumer needs a kick. */
static inline bool llist_add(struct llist_node *node, struct llist_head *head)
{
	struct llist_node *first = __atomic_load_n(&head->first, __ATOMIC_RELAXED);

	do {
		node->next = first;
	} while (!__atomic_compare_exchange_n(&head->first, &first, node, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	return !first;
}

/* Takes every entry, most recently added first. */
static inline struct llist_node *llist_del_all(struct llist_head *head)
{
	return __atomic_exchange_n(&head->first, NULL, __ATOMIC_ACQUIRE);
}

#define llist_entry(ptr, type, member)	       container_of(ptr, type, member)
#define llist_entry_or_null(ptr, type, member) ((ptr) ? llist_entry(ptr, type, member) : NULL)

/* Walks what llist_del_all() returned; @pos may be freed in the body. */
#define llist_for_each_entry_safe(pos, n, node, member)                                            \
	for (pos = llist_entry_or_null(node, typeof(*pos), member);                                \
	     pos && (n = llist_entry_or_null(pos->member.next, typeof(*pos), member), true);       \
	     pos = n)

#endif /* NSBPF_CORE_LIST_H */
