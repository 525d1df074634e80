// SPDX-License-Identifier: MIT
/*
 * cgroup.c - the runtime's cgroup v2 hierarchy (kernel/cgroup/cgroup.c, with kernfs's ids):
 * creating and removing cgroups by path, task membership, subsystems, and the deferred release
 * of cgroups nobody references any more. Public entry points are at the end.
 *
 * Ids follow kernfs on 64-bit: a cyclic inode number from 1 in the low 32 bits and a
 * generation that goes up each time the numbers wrap in the high bits, so the root is 1 and
 * an id is never handed out twice. The kernel's cgroup directories also contain interface
 * files, each with an inode number of its own, so a live kernel's second cgroup is not 2;
 * nsbpf gives numbers to cgroups only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "runtime.h"

static struct cgroup *cgroup_alloc(struct nsbpf_runtime *rt, const char *name, size_t len)
{
	struct cgroup *cgrp = calloc(1, sizeof(*cgrp) + len + 1);

	if (!cgrp)
		return NULL;
	memcpy(cgrp->name, name, len);
	refcount_set(&cgrp->refcnt, 1);
	INIT_LIST_HEAD(&cgrp->sibling);
	INIT_LIST_HEAD(&cgrp->children);
	INIT_LIST_HEAD(&cgrp->tasks);
	cgrp->rt = rt;
	return cgrp;
}

/* Must be called with cgroup_mutex held. */
static int cgroup_alloc_id(struct cgroup_state *cs, struct cgroup *cgrp)
{
	int ino = idr_alloc_cyclic(&cs->ino_idr, cgrp, 1, 0);

	if (ino < 0)
		return ino;
	if ((uint32_t)ino < cs->last_id_lowbits)
		cs->id_highbits++;
	cs->last_id_lowbits = ino;
	cgrp->id = (uint64_t)cs->id_highbits << 32 | (uint32_t)ino;
	return 0;
}

/* Must be called with cgroup_mutex held. */
static int css_online_one(struct cgroup *cgrp, struct cgroup_subsys *ss)
{
	void *priv = NULL;
	int err;

	if (ss->priv_size) {
		priv = calloc(1, ss->priv_size);
		if (!priv)
			return -ENOMEM;
	}
	cgrp->subsys_priv[ss->id] = priv;
	if (ss->css_online) {
		err = ss->css_online(cgrp);
		if (err)
			goto err_free_priv;
	}
	cgrp->subsys_online |= 1u << ss->id;
	return 0;

err_free_priv:
	cgrp->subsys_priv[ss->id] = NULL;
	free(priv);
	return err;
}

/* Must be called with cgroup_mutex held. */
static void css_offline_one(struct cgroup *cgrp, struct cgroup_subsys *ss)
{
	if ((cgrp->subsys_online & (1u << ss->id)) && ss->css_offline)
		ss->css_offline(cgrp);
}

/* Must be called with cgroup_mutex held. */
static void css_free_one(struct cgroup *cgrp, struct cgroup_subsys *ss)
{
	if (!(cgrp->subsys_online & (1u << ss->id)))
		return;
	if (ss->css_free)
		ss->css_free(cgrp);
	free(cgrp->subsys_priv[ss->id]);
	cgrp->subsys_priv[ss->id] = NULL;
	cgrp->subsys_online &= ~(1u << ss->id);
}

/* Pre-order walk of the online cgroups under @root. Must be called with cgroup_mutex held. */
static struct cgroup *cgroup_next_descendant_pre(struct cgroup *pos, struct cgroup *root)
{
	if (!pos)
		return root;
	if (!list_empty(&pos->children))
		return list_first_entry(&pos->children, struct cgroup, sibling);
	for (; pos != root; pos = pos->parent)
		if (pos->sibling.next != &pos->parent->children)
			return list_next_entry(pos, sibling);
	return NULL;
}

static struct cgroup *cgroup_leftmost_descendant(struct cgroup *pos)
{
	while (!list_empty(&pos->children))
		pos = list_first_entry(&pos->children, struct cgroup, sibling);
	return pos;
}

/* Post-order walk (children before parents). Must be called with cgroup_mutex held. */
static struct cgroup *cgroup_next_descendant_post(struct cgroup *pos, struct cgroup *root)
{
	if (!pos)
		return cgroup_leftmost_descendant(root);
	if (pos == root)
		return NULL;
	if (pos->sibling.next != &pos->parent->children)
		return cgroup_leftmost_descendant(list_next_entry(pos, sibling));
	return pos->parent;
}

/* Must be called with cgroup_mutex held. */
static struct cgroup *cgroup_find_child(struct cgroup *parent, const char *name, size_t len)
{
	struct cgroup *child;

	list_for_each_entry(child, &parent->children, sibling)
		if (!strncmp(child->name, name, len) && !child->name[len])
			return child;
	return NULL;
}

static const char *next_component(const char *p, size_t *len)
{
	while (*p == '/')
		p++;
	*len = strcspn(p, "/");
	return p;
}

static bool is_dot(const char *name, size_t len)
{
	return len == 1 && name[0] == '.';
}

static bool is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

/*
 * Resolves @path from the root. With @last, stops before the final component and returns its
 * parent, with *last (NULL when the path has no component, as "/") and *last_len naming it.
 * Must be called with cgroup_mutex held.
 */
static int cgroup_walk(struct cgroup_state *cs, const char *path, struct cgroup **out,
		       const char **last, size_t *last_len)
{
	struct cgroup *cgrp = cs->root;
	const char *name, *next;
	size_t len, next_len;

	if (strnlen(path, CGROUP_PATH_MAX) >= CGROUP_PATH_MAX)
		return -ENAMETOOLONG;
	for (name = next_component(path, &len); len; name = next, len = next_len) {
		next = next_component(name + len, &next_len);
		if (last && !next_len) {
			*last = name;
			*last_len = len;
			*out = cgrp;
			return 0;
		}
		if (len > CGROUP_NAME_MAX)
			return -ENAMETOOLONG;
		if (is_dotdot(name, len)) {
			if (cgrp->parent)
				cgrp = cgrp->parent;
		} else if (!is_dot(name, len)) {
			cgrp = cgroup_find_child(cgrp, name, len);
			if (!cgrp)
				return -ENOENT;
		}
	}
	if (last) {
		*last = NULL;
		*last_len = 0;
	}
	*out = cgrp;
	return 0;
}

/* Must be called with cgroup_mutex held. */
static int cgroup_create(struct cgroup *parent, const char *name, size_t len)
{
	struct nsbpf_runtime *rt = parent->rt;
	struct cgroup_state *cs = &rt->cgroup;
	const struct list_head *failed;
	struct cgroup_subsys *ss;
	struct cgroup *cgrp;
	int err;

	cgrp = cgroup_alloc(rt, name, len);
	if (!cgrp)
		return -ENOMEM;
	cgrp->level = parent->level + 1;
	/* Set before the subsystems see it: they inherit from the ancestors. */
	cgroup_get(parent);
	cgrp->parent = parent;

	err = cgroup_alloc_id(cs, cgrp);
	if (err)
		goto err_put_parent;
	list_for_each_entry(ss, &cs->subsys_list, list) {
		err = css_online_one(cgrp, ss);
		if (err)
			goto err_offline;
	}

	list_add_tail(&cgrp->sibling, &parent->children);
	WRITE_ONCE(cgrp->online, true);
	return 0;

err_offline:
	failed = &ss->list;
	list_for_each_entry_before_reverse(ss, failed, &cs->subsys_list, list) {
		css_offline_one(cgrp, ss);
		css_free_one(cgrp, ss);
	}
	idr_remove(&cs->ino_idr, (uint32_t)cgrp->id);
err_put_parent:
	cgroup_put(parent);
	free(cgrp);
	return err;
}

/*
 * Takes the cgroup offline: it disappears from the hierarchy, subsystems let go of it, and the
 * hierarchy's reference goes. Must be called with cgroup_mutex held.
 */
static void kill_cgroup(struct cgroup *cgrp)
{
	struct cgroup_subsys *ss;

	WRITE_ONCE(cgrp->online, false);
	list_del_init(&cgrp->sibling);
	list_for_each_entry_reverse(ss, &cgrp->rt->cgroup.subsys_list, list)
		css_offline_one(cgrp, ss);
	cgroup_put(cgrp);
}

/* Must be called with cgroup_mutex held. */
static int cgroup_destroy_locked(struct cgroup *cgrp)
{
	if (cgrp->nr_tasks || !list_empty(&cgrp->children))
		return -EBUSY;
	kill_cgroup(cgrp);
	return 0;
}

int cgroup_mkdir(struct nsbpf_runtime *rt, const char *path)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *parent;
	const char *name;
	size_t len;
	int err;

	mutex_lock(&cs->cgroup_mutex);
	err = cgroup_walk(cs, path, &parent, &name, &len);
	if (err)
		goto out_unlock;
	/* The file system's checks come first: the name, then whether it exists. */
	err = -EEXIST;
	if (!name || is_dot(name, len) || is_dotdot(name, len))
		goto out_unlock;
	err = -ENAMETOOLONG;
	if (len > CGROUP_NAME_MAX)
		goto out_unlock;
	err = -EEXIST;
	if (cgroup_find_child(parent, name, len))
		goto out_unlock;
	err = -EINVAL;
	if (memchr(name, '\n', len))
		goto out_unlock;
	err = cgroup_create(parent, name, len);
out_unlock:
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

int cgroup_rmdir(struct nsbpf_runtime *rt, const char *path)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *parent, *cgrp;
	const char *name;
	size_t len;
	int err;

	mutex_lock(&cs->cgroup_mutex);
	err = cgroup_walk(cs, path, &parent, &name, &len);
	if (err)
		goto out_unlock;
	/* rmdir(2) of "/" (a mount point), "." and ".." */
	err = -EBUSY;
	if (!name)
		goto out_unlock;
	err = -EINVAL;
	if (is_dot(name, len))
		goto out_unlock;
	err = -ENOTEMPTY;
	if (is_dotdot(name, len))
		goto out_unlock;
	err = -ENAMETOOLONG;
	if (len > CGROUP_NAME_MAX)
		goto out_unlock;
	err = -ENOENT;
	cgrp = cgroup_find_child(parent, name, len);
	if (!cgrp)
		goto out_unlock;
	err = cgroup_destroy_locked(cgrp);
out_unlock:
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

int cgroup_get_from_path(struct nsbpf_runtime *rt, const char *path, struct cgroup **out)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *cgrp;
	int err;

	mutex_lock(&cs->cgroup_mutex);
	err = cgroup_walk(cs, path, &cgrp, NULL, NULL);
	if (!err) {
		cgroup_get(cgrp);
		*out = cgrp;
	}
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

int cgroup_get_from_id(struct nsbpf_runtime *rt, uint64_t id, struct cgroup **out)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *cgrp;
	int err = -ENOENT;

	mutex_lock(&cs->cgroup_mutex);
	cgrp = idr_find(&cs->ino_idr, (uint32_t)id);
	if (cgrp && cgrp->id == id && cgrp->online) {
		cgroup_get(cgrp);
		*out = cgrp;
		err = 0;
	}
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

int cgroup_path(struct cgroup *cgrp, char *buf, size_t len)
{
	struct cgroup_state *cs = &cgrp->rt->cgroup;
	struct cgroup *pos;
	size_t need = 1, end;
	int err = -ENAMETOOLONG;

	mutex_lock(&cs->cgroup_mutex);
	for (pos = cgrp; pos->parent; pos = pos->parent)
		need += 1 + strlen(pos->name);
	if (!cgrp->parent)
		need++; /* "/" */
	if (need > len)
		goto out_unlock;
	buf[0] = '/';
	buf[need - 1] = '\0';
	/* Filled from the end: the names come leaf first. */
	for (pos = cgrp, end = need - 1; pos->parent; pos = pos->parent) {
		size_t l = strlen(pos->name);

		end -= l;
		memcpy(buf + end, pos->name, l);
		buf[--end] = '/';
	}
	err = 0;
out_unlock:
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

int cgroup_attach_task(struct cgroup *dst, struct task_struct *tsk)
{
	struct cgroup_state *cs = &dst->rt->cgroup;
	struct cgroup *src;
	int err = 0;

	if (dst->rt != tsk->rt)
		return -EINVAL;
	mutex_lock(&cs->cgroup_mutex);
	src = tsk->cgroup;
	if (!dst->online)
		err = -ENODEV;
	else if (!src)
		err = -ESRCH;
	if (err || src == dst)
		goto out_unlock;
	list_move_tail(&tsk->cg_list, &dst->tasks);
	src->nr_tasks--;
	dst->nr_tasks++;
	rcu_assign_pointer(tsk->cgroup, dst);
out_unlock:
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

int cgroup_procs(struct cgroup *cgrp, int *pids, unsigned int max)
{
	struct cgroup_state *cs = &cgrp->rt->cgroup;
	struct task_struct *tsk;
	unsigned int n = 0;

	mutex_lock(&cs->cgroup_mutex);
	list_for_each_entry(tsk, &cgrp->tasks, cg_list) {
		if (n < max)
			pids[n] = tsk->pid;
		n++;
	}
	mutex_unlock(&cs->cgroup_mutex);
	return n;
}

void cgroup_post_fork(struct task_struct *child, struct task_struct *parent)
{
	struct cgroup_state *cs = &child->rt->cgroup;
	struct cgroup *cgrp;

	mutex_lock(&cs->cgroup_mutex);
	cgrp = parent->cgroup;
	list_add_tail(&child->cg_list, &cgrp->tasks);
	cgrp->nr_tasks++;
	rcu_assign_pointer(child->cgroup, cgrp);
	mutex_unlock(&cs->cgroup_mutex);
}

void cgroup_exit(struct task_struct *tsk)
{
	struct cgroup_state *cs = &tsk->rt->cgroup;
	struct cgroup *cgrp;

	mutex_lock(&cs->cgroup_mutex);
	cgrp = tsk->cgroup;
	if (cgrp) {
		list_del_init(&tsk->cg_list);
		cgrp->nr_tasks--;
		RCU_INIT_POINTER(tsk->cgroup, NULL);
	}
	mutex_unlock(&cs->cgroup_mutex);
}

void cgroup_put(struct cgroup *cgrp)
{
	struct cgroup_state *cs = &cgrp->rt->cgroup;

	if (!refcount_dec_and_test(&cgrp->refcnt))
		return;
	if (llist_add(&cgrp->release_node, &cs->release_list))
		queue_work(cs->cgroup_destroy_wq, &cs->release_work);
}

/* Must be called with cgroup_mutex held. */
static void cgroup_free(struct cgroup_state *cs, struct cgroup *cgrp)
{
	struct cgroup_subsys *ss;

	list_for_each_entry_reverse(ss, &cs->subsys_list, list)
		css_free_one(cgrp, ss);
	idr_remove(&cs->ino_idr, (uint32_t)cgrp->id);
	free(cgrp);
}

/* cgroup_destroy_wq: frees the cgroups whose last reference went since the last run. */
static void cgroup_release_workfn(struct work_struct *work)
{
	struct cgroup_state *cs = container_of(work, struct cgroup_state, release_work);
	struct llist_node *released = llist_del_all(&cs->release_list);
	struct cgroup *cgrp, *tmp, *parent;

	if (!released)
		return;
	/* RCU readers may have found them through a task's cgroup pointer before it moved. */
	synchronize_rcu();

	mutex_lock(&cs->cgroup_mutex);
	llist_for_each_entry_safe(cgrp, tmp, released, release_node) {
		parent = cgrp->parent;
		cgroup_free(cs, cgrp);
		/* May queue the parent, and this work again. */
		if (parent)
			cgroup_put(parent);
	}
	mutex_unlock(&cs->cgroup_mutex);
}

int cgroup_barrier(struct nsbpf_runtime *rt)
{
	return drain_workqueue(rt->cgroup.cgroup_destroy_wq);
}

int cgroup_register_subsys(struct nsbpf_runtime *rt, struct cgroup_subsys *ss)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *pos;
	int err = -ENOSPC, id;

	mutex_lock(&cs->cgroup_mutex);
	for (id = 0; id < CGROUP_SUBSYS_MAX && cs->subsys[id]; id++)
		;
	if (id == CGROUP_SUBSYS_MAX)
		goto out_unlock;
	ss->id = id;
	cs->subsys[id] = ss;

	for (pos = NULL; (pos = cgroup_next_descendant_pre(pos, cs->root));) {
		err = css_online_one(pos, ss);
		if (err)
			goto err_undo;
	}
	list_add_tail(&ss->list, &cs->subsys_list);
	goto out_unlock;

err_undo:
	/* The ones onlined so far came before @pos in pre-order: their bits say which. */
	for (pos = NULL; (pos = cgroup_next_descendant_post(pos, cs->root));) {
		css_offline_one(pos, ss);
		css_free_one(pos, ss);
	}
	cs->subsys[id] = NULL;
out_unlock:
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}

void cgroup_unregister_subsys(struct nsbpf_runtime *rt, struct cgroup_subsys *ss)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *pos;
	int id;

	mutex_lock(&cs->cgroup_mutex);
	list_del(&ss->list);
	for (pos = NULL; (pos = cgroup_next_descendant_post(pos, cs->root));) {
		css_offline_one(pos, ss);
		css_free_one(pos, ss);
	}
	/* Removed cgroups still referenced are offline already and only need freeing. */
	idr_for_each_entry(&cs->ino_idr, pos, id)
		css_free_one(pos, ss);
	cs->subsys[ss->id] = NULL;
	mutex_unlock(&cs->cgroup_mutex);
}

int cgroup_init(struct nsbpf_runtime *rt)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *root;
	int err;

	mutex_init(&cs->cgroup_mutex);
	idr_init(&cs->ino_idr);
	INIT_LIST_HEAD(&cs->subsys_list);
	init_llist_head(&cs->release_list);
	INIT_WORK(&cs->release_work, cgroup_release_workfn);

	err = alloc_ordered_workqueue("nsbpf-cgroup", &cs->cgroup_destroy_wq);
	if (err)
		goto err_destroy_mutex;
	err = -ENOMEM;
	root = cgroup_alloc(rt, "", 0);
	if (!root)
		goto err_destroy_wq;
	mutex_lock(&cs->cgroup_mutex);
	err = cgroup_alloc_id(cs, root);
	mutex_unlock(&cs->cgroup_mutex);
	if (err)
		goto err_free_root;
	root->online = true;
	cs->root = root;
	return 0;

err_free_root:
	free(root);
err_destroy_wq:
	destroy_workqueue(cs->cgroup_destroy_wq);
err_destroy_mutex:
	mutex_destroy(&cs->cgroup_mutex);
	return err;
}

void cgroup_exit_all(struct nsbpf_runtime *rt)
{
	struct cgroup_state *cs = &rt->cgroup;
	struct cgroup *pos, *next;
	int id;

	mutex_lock(&cs->cgroup_mutex);
	/* Children before parents; every task has exited, so nothing is busy. */
	for (pos = cgroup_next_descendant_post(NULL, cs->root); pos; pos = next) {
		next = cgroup_next_descendant_post(pos, cs->root);
		kill_cgroup(pos);
	}
	mutex_unlock(&cs->cgroup_mutex);
	cgroup_barrier(rt);

	/* What is left is referenced by handles never put: they die with the runtime. */
	mutex_lock(&cs->cgroup_mutex);
	idr_for_each_entry(&cs->ino_idr, pos, id)
		cgroup_free(cs, pos);
	mutex_unlock(&cs->cgroup_mutex);

	destroy_workqueue(cs->cgroup_destroy_wq);
	idr_destroy(&cs->ino_idr);
	mutex_destroy(&cs->cgroup_mutex);
	cs->root = NULL;
}

int nsbpf_cgroup_mkdir(struct nsbpf_runtime *rt, const char *path)
{
	return cgroup_mkdir(rt, path);
}

int nsbpf_cgroup_rmdir(struct nsbpf_runtime *rt, const char *path)
{
	return cgroup_rmdir(rt, path);
}

int nsbpf_cgroup_open(struct nsbpf_runtime *rt, const char *path, struct nsbpf_cgroup **handle)
{
	struct cgroup *cgrp;
	int err;

	err = cgroup_get_from_path(rt, path, &cgrp);
	if (!err)
		*handle = cgroup_to_handle(cgrp);
	return err;
}

void nsbpf_cgroup_put(struct nsbpf_cgroup *handle)
{
	cgroup_put(cgroup_from_handle(handle));
}

uint64_t nsbpf_cgroup_id(const struct nsbpf_cgroup *handle)
{
	return cgroup_id(cgroup_from_handle(handle));
}

int nsbpf_cgroup_attach_task(struct nsbpf_cgroup *handle, struct nsbpf_task *task)
{
	return cgroup_attach_task(cgroup_from_handle(handle), task_from_handle(task));
}

int nsbpf_cgroup_procs(struct nsbpf_cgroup *handle, int *pids, unsigned int max)
{
	return cgroup_procs(cgroup_from_handle(handle), pids, max);
}

int nsbpf_task_get_cgroup(struct nsbpf_task *task, struct nsbpf_cgroup **handle)
{
	struct task_struct *tsk = task_from_handle(task);
	struct cgroup_state *cs = &tsk->rt->cgroup;
	int err = -ESRCH;

	mutex_lock(&cs->cgroup_mutex);
	if (tsk->cgroup) {
		cgroup_get(tsk->cgroup);
		*handle = cgroup_to_handle(tsk->cgroup);
		err = 0;
	}
	mutex_unlock(&cs->cgroup_mutex);
	return err;
}
