// SPDX-License-Identifier: MIT
/*
 * net_namespace.c - programs attached to network namespaces: the flow dissector (one program,
 * attached directly with PROG_ATTACH or by one link) and sk_lookup (links only, up to 64), as
 * the kernel's kernel/bpf/net_namespace.c. SPEC §3 is the contract.
 *
 * Each namespace has, per attach type, the directly attached program (holding a reference), the
 * list of links in attach order, and the run array built from them that the data path reads
 * under RCU. That state is per-namespace data of pernet operations the BPF state registers.
 *
 * Links hold no reference on their namespace: the namespace's pre_exit auto-detaches them
 * (net = NULL) and they live on, defunct, while anything references them. One mutex per
 * runtime (the kernel's netns_bpf_mutex) serialises attach, detach, update, release, info and
 * pre_exit, since the namespace may be dying while any of them runs; each checks that the link
 * is still attached and the namespace alive.
 */
#include <errno.h>
#include <stdlib.h>

#include "bpf-netns.h"
#include "core/net_namespace.h"
#include "core/nsproxy.h"
#include "core/runtime.h"
#include "core/task.h"
#include "link.h"
#include "prog.h"

/* The per-namespace state (net_generic(net, st->netns_bpf_id)). */
struct netns_bpf {
	struct bpf_prog_array *run_array[MAX_NETNS_BPF_ATTACH_TYPE]; /* RCU */
	struct bpf_prog *progs[MAX_NETNS_BPF_ATTACH_TYPE];	     /* direct attach: a reference */
	struct list_head links[MAX_NETNS_BPF_ATTACH_TYPE];	     /* links_of() */
};

struct bpf_netns_link {
	struct bpf_link link;
	enum bpf_attach_type type;
	enum netns_bpf_attach_type netns_type;
	/* No reference: pre_exit clears it. Read and written under netns_bpf_mutex. */
	struct net *net;
	struct list_head node; /* on netns_bpf.links[netns_type] */
};

static struct netns_bpf *net_bpf(const struct bpf_state *st, const struct net *net)
{
	return net_generic(net, st->netns_bpf_id);
}

/*
 * The links of @type in @nb. The per-namespace data starts zeroed, and pernet init would run
 * (at registration, for the namespaces that exist) before the state it belongs to is
 * published: the lists are set up on first use instead. Must be called with the mutex held.
 */
static struct list_head *links_of(struct netns_bpf *nb, enum netns_bpf_attach_type type)
{
	if (!nb->links[type].next)
		INIT_LIST_HEAD(&nb->links[type]);
	return &nb->links[type];
}

static struct bpf_state *net_bpf_state(const struct net *net)
{
	return bpf_state_peek(net->rt);
}

static unsigned int netns_bpf_max_progs(enum netns_bpf_attach_type type)
{
	return type == NETNS_BPF_SK_LOOKUP ? 64 : 1;
}

static unsigned int link_count(struct netns_bpf *nb, enum netns_bpf_attach_type type)
{
	struct list_head *head = links_of(nb, type), *pos;
	unsigned int cnt = 0;

	for (pos = head->next; pos != head; pos = pos->next)
		cnt++;
	return cnt;
}

/* The run array as the links make it, in attach order. Must be called with the mutex held. */
static void fill_prog_array(struct netns_bpf *nb, enum netns_bpf_attach_type type,
			    struct bpf_prog_array *array)
{
	struct bpf_netns_link *net_link;
	uint32_t i = 0;

	list_for_each_entry(net_link, links_of(nb, type), node)
		array->progs[i++] = atomic_load(&net_link->link.prog);
}

/* bpf_sk_lookup_enabled: how many sk_lookup links exist in any namespace. */
static void netns_bpf_attach_type_need(struct bpf_state *st, enum netns_bpf_attach_type type)
{
	if (type == NETNS_BPF_SK_LOOKUP)
		atomic_fetch_add(&st->sk_lookup_enabled, 1);
}

static void netns_bpf_attach_type_unneed(struct bpf_state *st, enum netns_bpf_attach_type type)
{
	if (type == NETNS_BPF_SK_LOOKUP)
		atomic_fetch_sub(&st->sk_lookup_enabled, 1);
}

bool netns_bpf_sk_lookup_enabled(struct bpf_state *st)
{
	return atomic_load_explicit(&st->sk_lookup_enabled, memory_order_relaxed) > 0;
}

/* Must be called with the mutex held. */
static void netns_bpf_run_array_detach(struct bpf_state *st, struct netns_bpf *nb,
				       enum netns_bpf_attach_type type)
{
	struct bpf_prog_array *old = rcu_dereference_protected(nb->run_array[type]);

	rcu_assign_pointer(nb->run_array[type], NULL);
	bpf_prog_array_free(st, old);
}

struct bpf_prog_array *netns_bpf_run_array(struct bpf_state *st, struct net *net,
					   enum netns_bpf_attach_type type)
{
	return rcu_dereference(net_bpf(st, net)->run_array[type]);
}

/* ---- Links ------------------------------------------------------------------------------ */

static struct bpf_netns_link *to_netns_link(const struct bpf_link *link)
{
	return container_of(link, struct bpf_netns_link, link);
}

/* The position of @net_link in its list, which is its program's index in the run array. */
static int link_index(struct netns_bpf *nb, enum netns_bpf_attach_type type,
		      const struct bpf_netns_link *net_link)
{
	const struct bpf_netns_link *pos;
	int i = 0;

	list_for_each_entry(pos, links_of(nb, type), node) {
		if (pos == net_link)
			return i;
		i++;
	}
	return -ENOENT;
}

static void bpf_netns_link_release(struct bpf_link *link)
{
	struct bpf_netns_link *net_link = to_netns_link(link);
	enum netns_bpf_attach_type type = net_link->netns_type;
	struct bpf_prog_array *old, *array;
	struct bpf_state *st = link->st;
	struct netns_bpf *nb;
	unsigned int cnt;
	struct net *net;
	int idx;

	pthread_mutex_lock(&st->netns_bpf_mutex);
	/* pre_exit may have run meanwhile; if net is still set, it waits for the mutex */
	net = net_link->net;
	if (!net)
		goto out_unlock;
	nb = net_bpf(st, net);
	netns_bpf_attach_type_unneed(st, type);
	/* where it was, should the array have to be edited in place */
	idx = link_index(nb, type, net_link);
	list_del(&net_link->node);
	cnt = link_count(nb, type);
	if (!cnt) {
		netns_bpf_run_array_detach(st, nb, type);
		goto out_unlock;
	}
	old = rcu_dereference_protected(nb->run_array[type]);
	array = bpf_prog_array_alloc(cnt);
	if (!array) {
		/*
		 * No memory for a new array: empty the program's slot in the old one (the
		 * kernel's bpf_prog_array_delete_safe_at), which readers skip.
		 */
		if (idx >= 0 && (uint32_t)idx < old->cnt)
			__atomic_store_n(&old->progs[idx], NULL, __ATOMIC_RELEASE);
		goto out_unlock;
	}
	fill_prog_array(nb, type, array);
	rcu_assign_pointer(nb->run_array[type], array);
	bpf_prog_array_free(st, old);
out_unlock:
	net_link->net = NULL;
	pthread_mutex_unlock(&st->netns_bpf_mutex);
}

static int bpf_netns_link_detach(struct bpf_link *link)
{
	bpf_netns_link_release(link);
	return 0;
}

static void bpf_netns_link_dealloc(struct bpf_link *link)
{
	free(to_netns_link(link));
}

static int bpf_netns_link_update_prog(struct bpf_link *link, struct bpf_prog *new_prog,
				      struct bpf_prog *old_prog)
{
	struct bpf_netns_link *net_link = to_netns_link(link);
	enum netns_bpf_attach_type type = net_link->netns_type;
	struct bpf_state *st = link->st;
	struct bpf_prog_array *run_array;
	struct netns_bpf *nb;
	struct net *net;
	int idx, ret = 0;

	/* -EPERM and -EINVAL come before -ENOLINK: a defunct link answers them too. */
	if (old_prog && old_prog != atomic_load(&link->prog))
		return -EPERM;
	if (bpf_prog_type(new_prog) != bpf_prog_type(atomic_load(&link->prog)))
		return -EINVAL;

	pthread_mutex_lock(&st->netns_bpf_mutex);
	net = net_link->net;
	if (!net || !check_net(net)) {
		/* auto-detached, or the namespace is dying */
		ret = -ENOLINK;
		goto out_unlock;
	}
	nb = net_bpf(st, net);
	run_array = rcu_dereference_protected(nb->run_array[type]);
	idx = link_index(nb, type, net_link);
	if (idx < 0 || (uint32_t)idx >= run_array->cnt) {
		ret = -ENOENT;
		goto out_unlock;
	}
	/* A program pointer is replaced whole: readers see the old program or the new. */
	__atomic_store_n(&run_array->progs[idx], new_prog, __ATOMIC_RELEASE);
	bpf_prog_put(atomic_exchange(&link->prog, new_prog));
out_unlock:
	pthread_mutex_unlock(&st->netns_bpf_mutex);
	return ret;
}

static int bpf_netns_link_fill_info(const struct bpf_link *link, struct bpf_link_info *info)
{
	const struct bpf_netns_link *net_link = to_netns_link(link);
	struct bpf_state *st = link->st;
	unsigned int inum = 0;
	struct net *net;

	pthread_mutex_lock(&st->netns_bpf_mutex);
	net = net_link->net;
	if (net && check_net(net))
		inum = net->ns.inum;
	pthread_mutex_unlock(&st->netns_bpf_mutex);
	info->netns.netns_ino = inum;
	info->netns.attach_type = net_link->type;
	return 0;
}

static int bpf_netns_link_show_fdinfo(const struct bpf_link *link, char *buf, size_t size)
{
	struct bpf_link_info info = { 0 };

	bpf_netns_link_fill_info(link, &info);
	return snprintf(buf, size, "netns_ino:\t%u\nattach_type:\t%u\n", info.netns.netns_ino,
			info.netns.attach_type);
}

static const struct bpf_link_ops bpf_netns_link_ops = {
	.release = bpf_netns_link_release,
	.dealloc = bpf_netns_link_dealloc,
	.detach = bpf_netns_link_detach,
	.update_prog = bpf_netns_link_update_prog,
	.fill_link_info = bpf_netns_link_fill_info,
	.show_fdinfo = bpf_netns_link_show_fdinfo,
};

/* ---- Targets ------------------------------------------------------------------------------- */

/* get_net_ns_by_fd(): the namespace of a /proc/PID/ns/net fd, with a count reference. */
static struct net *get_net_ns_by_fd(struct bpf_state *st, int fd, int *err)
{
	struct bpf_file *file = bpf_fd_get(st, fd);
	struct net *net = NULL;

	if (!file) {
		*err = bpf_fd_not_ours(st, fd);
		return NULL;
	}
	if (file->kind == BPF_FILE_NET)
		net = get_net(net_from_handle(file->obj));
	else
		*err = -EINVAL;
	bpf_file_put(file);
	return net;
}

/*
 * The flow dissector of the initial namespace runs for every namespace, so it excludes
 * programs in the others, and theirs exclude it. Must be called with the mutex held.
 */
static int flow_dissector_bpf_prog_attach_check(struct bpf_state *st, struct net *net)
{
	struct netns_state *ns = &st->rt->netns;
	enum netns_bpf_attach_type type = NETNS_BPF_FLOW_DISSECTOR;
	struct net *pos;
	int err = 0;

	if (net != ns->init_net)
		return net_bpf(st, ns->init_net)->run_array[type] ? -EEXIST : 0;
	down_read(&ns->net_rwsem);
	for_each_net(st->rt, pos) {
		if (pos != ns->init_net && net_bpf(st, pos)->run_array[type]) {
			err = -EEXIST;
			break;
		}
	}
	up_read(&ns->net_rwsem);
	return err;
}

/* ---- Commands ----------------------------------------------------------------------------- */

int netns_bpf_prog_query(struct bpf_state *st, const union bpf_attr *attr, union bpf_attr *uattr)
{
	enum netns_bpf_attach_type type;
	struct bpf_prog_array *run_array;
	uint32_t prog_cnt = 0, flags = 0;
	struct net *net;
	int err = 0;

	if (attr->query.query_flags)
		return -EINVAL;
	type = to_netns_bpf_attach_type(attr->query.attach_type);
	if (type < 0)
		return -EINVAL;
	net = get_net_ns_by_fd(st, (int)attr->query.target_fd, &err);
	if (!net)
		return err;

	pthread_mutex_lock(&st->netns_bpf_mutex);
	run_array = rcu_dereference_protected(net_bpf(st, net)->run_array[type]);
	if (run_array)
		prog_cnt = bpf_prog_array_length(run_array);
	/* the count is written first: it is the true total even when the ids do not fit */
	if (copy_to_user(&uattr->query.attach_flags, &flags, sizeof(flags)) ||
	    copy_to_user(&uattr->query.prog_cnt, &prog_cnt, sizeof(prog_cnt)))
		err = -EFAULT;
	else if (attr->query.prog_cnt && attr->query.prog_ids && prog_cnt)
		err = bpf_prog_array_copy_to_user(run_array, attr->query.prog_ids,
						  attr->query.prog_cnt);
	pthread_mutex_unlock(&st->netns_bpf_mutex);
	put_net(net);
	return err;
}

/* The calling task's namespace, with a count reference. */
static struct net *current_net(struct bpf_state *st)
{
	struct net *net = NULL;

	if (task_get_net(bpf_current_task(st->rt), &net))
		return NULL;
	return net;
}

int netns_bpf_prog_attach(struct bpf_state *st, const union bpf_attr *attr, struct bpf_prog *prog)
{
	enum netns_bpf_attach_type type;
	struct bpf_prog_array *run_array;
	struct bpf_prog *attached;
	struct netns_bpf *nb;
	struct net *net;
	int ret = 0;

	if (attr->target_fd || attr->attach_flags || attr->replace_bpf_fd)
		return -EINVAL;
	type = to_netns_bpf_attach_type(attr->attach_type);
	if (type < 0)
		return -EINVAL;
	net = current_net(st);
	if (!net)
		return -EINVAL;
	nb = net_bpf(st, net);

	pthread_mutex_lock(&st->netns_bpf_mutex);
	/* attaching directly is not compatible with links */
	if (!list_empty(links_of(nb, type))) {
		ret = -EEXIST;
		goto out_unlock;
	}
	ret = type == NETNS_BPF_FLOW_DISSECTOR ? flow_dissector_bpf_prog_attach_check(st, net)
					       : -EINVAL;
	if (ret)
		goto out_unlock;
	attached = nb->progs[type];
	if (attached == prog) {
		/* the same program cannot be attached twice */
		ret = -EINVAL;
		goto out_unlock;
	}
	run_array = rcu_dereference_protected(nb->run_array[type]);
	if (run_array) {
		__atomic_store_n(&run_array->progs[0], prog, __ATOMIC_RELEASE);
	} else {
		run_array = bpf_prog_array_alloc(1);
		if (!run_array) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		run_array->progs[0] = prog;
		rcu_assign_pointer(nb->run_array[type], run_array);
	}
	nb->progs[type] = prog;
	bpf_prog_put(attached);
out_unlock:
	pthread_mutex_unlock(&st->netns_bpf_mutex);
	put_net(net);
	return ret;
}

int netns_bpf_prog_detach(struct bpf_state *st, const union bpf_attr *attr)
{
	enum netns_bpf_attach_type type;
	struct bpf_prog *prog, *attached;
	struct netns_bpf *nb;
	struct net *net;
	int ret = 0;

	if (attr->target_fd)
		return -EINVAL;
	type = to_netns_bpf_attach_type(attr->attach_type);
	if (type < 0)
		return -EINVAL;
	/* the program's fd is required: only the attached program is detached */
	prog = bpf_prog_from_fd(st, (int)attr->attach_bpf_fd, &ret);
	if (!prog)
		return ret;
	if (bpf_prog_type(prog) != BPF_PROG_TYPE_FLOW_DISSECTOR) {
		bpf_prog_put(prog);
		return -EINVAL;
	}
	net = current_net(st);
	if (!net) {
		bpf_prog_put(prog);
		return -EINVAL;
	}
	nb = net_bpf(st, net);

	pthread_mutex_lock(&st->netns_bpf_mutex);
	attached = nb->progs[type];
	if (!list_empty(links_of(nb, type))) {
		/* programs attached by links are detached through their links */
		ret = -EINVAL;
	} else if (!attached || attached != prog) {
		ret = -ENOENT;
	} else {
		netns_bpf_run_array_detach(st, nb, type);
		nb->progs[type] = NULL;
		bpf_prog_put(attached);
	}
	pthread_mutex_unlock(&st->netns_bpf_mutex);
	put_net(net);
	bpf_prog_put(prog);
	return ret;
}

static int netns_bpf_link_attach(struct bpf_state *st, struct net *net,
				 struct bpf_netns_link *net_link, enum netns_bpf_attach_type type)
{
	struct netns_bpf *nb = net_bpf(st, net);
	struct bpf_prog_array *run_array;
	unsigned int cnt;
	int err;

	pthread_mutex_lock(&st->netns_bpf_mutex);
	cnt = link_count(nb, type);
	if (cnt >= netns_bpf_max_progs(type)) {
		err = -E2BIG;
		goto out_unlock;
	}
	/* links are not compatible with attaching a program directly */
	if (nb->progs[type]) {
		err = -EEXIST;
		goto out_unlock;
	}
	err = type == NETNS_BPF_FLOW_DISSECTOR ? flow_dissector_bpf_prog_attach_check(st, net) : 0;
	if (err)
		goto out_unlock;
	run_array = bpf_prog_array_alloc(cnt + 1);
	if (!run_array) {
		err = -ENOMEM;
		goto out_unlock;
	}
	list_add_tail(&net_link->node, links_of(nb, type));
	fill_prog_array(nb, type, run_array);
	bpf_prog_array_free(st, rcu_dereference_protected(nb->run_array[type]));
	rcu_assign_pointer(nb->run_array[type], run_array);
	netns_bpf_attach_type_need(st, type);
out_unlock:
	pthread_mutex_unlock(&st->netns_bpf_mutex);
	return err;
}

int netns_bpf_link_create(struct bpf_state *st, const union bpf_attr *attr, struct bpf_prog *prog)
{
	enum netns_bpf_attach_type netns_type;
	struct bpf_link_primer primer;
	struct bpf_netns_link *net_link;
	struct net *net;
	int err = 0;

	if (attr->link_create.flags)
		return -EINVAL;
	netns_type = to_netns_bpf_attach_type(attr->link_create.attach_type);
	if (netns_type < 0)
		return -EINVAL;
	net = get_net_ns_by_fd(st, (int)attr->link_create.target_fd, &err);
	if (!net)
		return err;
	net_link = calloc(1, sizeof(*net_link));
	if (!net_link) {
		err = -ENOMEM;
		goto out_put_net;
	}
	bpf_link_init(&net_link->link, st, BPF_LINK_TYPE_NETNS, &bpf_netns_link_ops, prog);
	net_link->net = net;
	net_link->type = attr->link_create.attach_type;
	net_link->netns_type = netns_type;
	err = bpf_link_prime(&net_link->link, &primer);
	if (err) {
		free(net_link);
		goto out_put_net;
	}
	/* After prime: a failure here burns the id, as the kernel's does. */
	err = netns_bpf_link_attach(st, net, net_link, netns_type);
	if (err) {
		bpf_link_cleanup(&primer);
		goto out_put_net;
	}
	put_net(net);
	return bpf_link_settle(&primer);

out_put_net:
	put_net(net);
	return err;
}

/* ---- Namespaces ----------------------------------------------------------------------------- */

/* The namespace is going: its run arrays and direct programs go, its links become defunct. */
static void netns_bpf_pernet_pre_exit(struct net *net)
{
	struct bpf_state *st = net_bpf_state(net);
	struct netns_bpf *nb = net_bpf(st, net);
	struct bpf_netns_link *net_link;
	int type;

	pthread_mutex_lock(&st->netns_bpf_mutex);
	for (type = 0; type < MAX_NETNS_BPF_ATTACH_TYPE; type++) {
		netns_bpf_run_array_detach(st, nb, type);
		list_for_each_entry(net_link, links_of(nb, type), node) {
			net_link->net = NULL; /* auto-detach */
			netns_bpf_attach_type_unneed(st, type);
		}
		INIT_LIST_HEAD(&nb->links[type]);
		bpf_prog_put(nb->progs[type]);
		nb->progs[type] = NULL;
	}
	pthread_mutex_unlock(&st->netns_bpf_mutex);
}

int netns_bpf_init(struct bpf_state *st)
{
	pthread_mutex_init(&st->netns_bpf_mutex, NULL);
	st->netns_bpf_ops.pre_exit = netns_bpf_pernet_pre_exit;
	st->netns_bpf_ops.id = &st->netns_bpf_id;
	st->netns_bpf_ops.size = sizeof(struct netns_bpf);
	return register_pernet_subsys(st->rt, &st->netns_bpf_ops);
}

void netns_bpf_exit(struct bpf_state *st)
{
	/* namespaces already dying run their pre_exit first, while it is registered */
	net_ns_barrier(st->rt);
	/* then it runs for every namespace still alive: their links become defunct */
	unregister_pernet_subsys(st->rt, &st->netns_bpf_ops);
	pthread_mutex_destroy(&st->netns_bpf_mutex);
}
