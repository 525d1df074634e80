/* SPDX-License-Identifier: MIT */
/*
 * cgroup.h - the cgroup v2 hierarchy of a runtime (kernel/cgroup/cgroup.c): a root, mkdir and
 * rmdir by path, 64-bit ids as the kernel's kernfs node ids (the root is 1), task membership
 * and migration, and subsystems whose callbacks run as cgroups come online, go offline and are
 * freed - where the cgroup-BPF code keeps its per-cgroup program arrays.
 *
 * Lifetime: the hierarchy holds one reference on every online cgroup and drops it at rmdir;
 * each cgroup holds one on its parent; users (handles, BPF links later) hold their own. A
 * removed cgroup stays in memory, offline, while referenced; its id stays reserved until it is
 * freed. Freeing runs on the runtime's cgroup_destroy_wq after an RCU grace period, because
 * readers may have found it through a task's cgroup pointer.
 *
 * Locking: cgroup_mutex (rt->cgroup.cgroup_mutex) protects the hierarchy (children lists,
 * online state), task membership, the id table and the subsystem list. Subsystem callbacks run
 * with it held.
 */
#ifndef NSBPF_CORE_CGROUP_H
#define NSBPF_CORE_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "idr.h"
#include "list.h"
#include "mutex.h"
#include "rcu.h"
#include "refcount.h"
#include "task.h"
#include "workqueue.h"

struct nsbpf_runtime;

#define CGROUP_SUBSYS_MAX 8
#define CGROUP_NAME_MAX	  255  /* NAME_MAX */
#define CGROUP_PATH_MAX	  4096 /* PATH_MAX */

/*
 * A subsystem: per-cgroup state and the moments it is told about. Registered in one runtime;
 * the struct is the registration. Callbacks run with cgroup_mutex held and must not take it.
 */
struct cgroup_subsys {
	const char *name;
	/*
	 * A cgroup came to be (after its parent, which is online): set its state up. A failure
	 * makes mkdir (or the registration) fail.
	 */
	int (*css_online)(struct cgroup *cgrp);
	/*
	 * The cgroup was removed (rmdir): it is offline but may stay referenced for a while.
	 * The place to detach what hangs on it.
	 */
	void (*css_offline)(struct cgroup *cgrp);
	/* The last reference is gone, a grace period has passed; the memory goes next. */
	void (*css_free)(struct cgroup *cgrp);
	size_t priv_size;      /* zeroed bytes at cgroup_subsys_priv(); 0 for none */
	int id;		       /* set by cgroup_register_subsys() */
	struct list_head list; /* the runtime's subsys_list; cgroup_mutex */
};

struct cgroup {
	uint64_t id; /* kernfs id: generation << 32 | inode number */
	int level;   /* root 0 */
	bool online; /* cgroup_mutex */
	refcount_t refcnt;
	struct cgroup *parent;	   /* holds a reference; NULL for the root */
	struct list_head sibling;  /* on parent->children while online; cgroup_mutex */
	struct list_head children; /* online children; cgroup_mutex */
	struct list_head tasks;	   /* cgroup_mutex */
	unsigned int nr_tasks;	   /* cgroup_mutex */
	/* No reference: the runtime outlives its cgroups. */
	struct nsbpf_runtime *rt;
	struct llist_node release_node; /* queued for cgroup_release_workfn() */
	unsigned int subsys_online;	/* bit per subsystem whose css_online succeeded */
	void *subsys_priv[CGROUP_SUBSYS_MAX];
	char name[]; /* "" for the root */
};

/* The runtime's hierarchy (rt->cgroup). */
struct cgroup_state {
	/* Protects the hierarchy, task membership, ino_idr, id_highbits and subsys_list. */
	struct mutex cgroup_mutex;
	struct cgroup *root; /* no reference of its own: the hierarchy's, dropped at exit */
	/* kernfs inode number -> cgroup, for every cgroup not yet freed. */
	struct idr ino_idr;
	uint32_t id_highbits;
	uint32_t last_id_lowbits;
	struct list_head subsys_list;
	struct cgroup_subsys *subsys[CGROUP_SUBSYS_MAX];

	struct llist_head release_list; /* cgroups whose refcnt dropped to zero */
	struct workqueue_struct *cgroup_destroy_wq;
	struct work_struct release_work;
};

static inline void cgroup_get(struct cgroup *cgrp)
{
	refcount_inc(&cgrp->refcnt);
}

static inline bool cgroup_tryget(struct cgroup *cgrp)
{
	return refcount_inc_not_zero(&cgrp->refcnt);
}

/* Callable in any context: the memory goes later, on cgroup_destroy_wq. */
void cgroup_put(struct cgroup *cgrp);

static inline uint64_t cgroup_id(const struct cgroup *cgrp)
{
	return cgrp->id;
}

static inline struct cgroup *cgroup_parent(const struct cgroup *cgrp)
{
	return cgrp->parent;
}

/* Must be called with cgroup_mutex held, or accept an answer that may change. */
static inline bool cgroup_is_dead(const struct cgroup *cgrp)
{
	return !READ_ONCE(((struct cgroup *)cgrp)->online);
}

static inline void *cgroup_subsys_priv(const struct cgroup *cgrp, const struct cgroup_subsys *ss)
{
	return cgrp->subsys_priv[ss->id];
}

/*
 * Paths are relative to the hierarchy's root ("/a/b", "a/b", "/" for the root); empty
 * components and "." are skipped, ".." goes up (not above the root).
 *
 * mkdir: -EEXIST, -ENOENT (a parent is missing), -EINVAL (a name with '\n'), -ENAMETOOLONG,
 * -ENOMEM, or a subsystem's css_online error.
 * rmdir: -ENOENT, -EBUSY (tasks, live children, or the root), -EINVAL for ".", -ENOTEMPTY
 * for "..".
 */
int cgroup_mkdir(struct nsbpf_runtime *rt, const char *path);
int cgroup_rmdir(struct nsbpf_runtime *rt, const char *path);
/* A reference on the online cgroup at @path; -ENOENT, -ENAMETOOLONG. */
int cgroup_get_from_path(struct nsbpf_runtime *rt, const char *path, struct cgroup **cgrp);
/* A reference on the online cgroup with @id; -ENOENT. */
int cgroup_get_from_id(struct nsbpf_runtime *rt, uint64_t id, struct cgroup **cgrp);
/* "/a/b" into @buf; -ENAMETOOLONG if it does not fit. Takes cgroup_mutex. */
int cgroup_path(struct cgroup *cgrp, char *buf, size_t len);

/* Moves @tsk to @dst (echo PID > cgroup.procs). -ENODEV if @dst was removed. */
int cgroup_attach_task(struct cgroup *dst, struct task_struct *tsk);
/* Fills @pids with up to @max members; returns how many there are. */
int cgroup_procs(struct cgroup *cgrp, int *pids, unsigned int max);
/* Must be called under rcu_read_lock() or with cgroup_mutex held. */
static inline struct cgroup *task_dfl_cgroup(struct task_struct *tsk)
{
	return rcu_dereference(tsk->cgroup);
}

/* fork and exit hooks (task.c). */
void cgroup_post_fork(struct task_struct *child, struct task_struct *parent);
void cgroup_exit(struct task_struct *tsk);

/*
 * Onlines @ss for every online cgroup, parents first; on failure, undoes it. -ENOSPC past
 * CGROUP_SUBSYS_MAX subsystems. Unregistering offlines and frees @ss's state everywhere.
 */
int cgroup_register_subsys(struct nsbpf_runtime *rt, struct cgroup_subsys *ss);
void cgroup_unregister_subsys(struct nsbpf_runtime *rt, struct cgroup_subsys *ss);

/* Waits until every cgroup released so far is freed. */
int cgroup_barrier(struct nsbpf_runtime *rt);

int cgroup_init(struct nsbpf_runtime *rt);
/* Removes every cgroup (after task_exit_all()) and waits for them to be freed. */
void cgroup_exit_all(struct nsbpf_runtime *rt);

#endif /* NSBPF_CORE_CGROUP_H */
