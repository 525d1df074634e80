// SPDX-License-Identifier: MIT
/*
 * runtime.c - creating and freeing a runtime: the subsystems come up in dependency order
 * (namespaces, then devices, whose pernet ops give init_net its lo; the initial nsproxy; the
 * cgroup root; init_task) and go down in the reverse one.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

#define OPTS_HAS(opts, field)		((opts) && (opts)->sz >= offsetofend(typeof(*(opts)), field))
#define OPTS_GET(opts, field, fallback) (OPTS_HAS(opts, field) ? (opts)->field : (fallback))

/* As libbpf's OPTS_VALID(): a caller built against a newer header passes zeros beyond ours. */
static bool runtime_opts_valid(const struct nsbpf_runtime_opts *opts)
{
	const unsigned char *p;

	if (!opts)
		return true;
	if (opts->sz < sizeof(opts->sz))
		return false;
	for (p = (const unsigned char *)opts + sizeof(*opts);
	     p < (const unsigned char *)opts + opts->sz; p++)
		if (*p)
			return false;
	return true;
}

int nsbpf_runtime_new(const struct nsbpf_runtime_opts *opts, struct nsbpf_runtime **out)
{
	struct nsbpf_runtime *rt;
	int err;

	if (!runtime_opts_valid(opts))
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;

	err = net_ns_init(rt, OPTS_GET(opts, max_net_namespaces, 0));
	if (err)
		goto err_free_rt;
	err = net_dev_init(rt);
	if (err)
		goto err_exit_net_ns;
	err = nsproxy_init(rt);
	if (err)
		goto err_exit_net_dev;
	err = cgroup_init(rt);
	if (err)
		goto err_exit_nsproxy;
	err = task_init(rt);
	if (err)
		goto err_exit_cgroup;
	*out = rt;
	return 0;

err_exit_cgroup:
	cgroup_exit_all(rt);
err_exit_nsproxy:
	nsproxy_exit(rt);
err_exit_net_dev:
	net_ns_shutdown(rt);
	net_dev_exit(rt);
err_exit_net_ns:
	net_ns_shutdown(rt);
	net_ns_exit(rt);
err_free_rt:
	free(rt);
	return err;
}

void nsbpf_runtime_free(struct nsbpf_runtime *rt)
{
	if (!rt)
		return;
	if (rt->bpf.free)
		rt->bpf.free(rt, rt->bpf.state);
	task_exit_all(rt);
	cgroup_exit_all(rt);
	nsproxy_exit(rt);
	net_ns_shutdown(rt);
	net_dev_exit(rt);
	net_ns_exit(rt);
	free(rt);
}

int nsbpf_runtime_flush(struct nsbpf_runtime *rt)
{
	unsigned long before, after;
	int err;

	/* Tearing down objects of one kind may release objects of the other: repeat until a
	 * pass finds nothing to do. */
	do {
		before = workqueue_nr_done(rt->netns.netns_wq) +
			 workqueue_nr_done(rt->cgroup.cgroup_destroy_wq);
		err = net_ns_barrier(rt);
		if (err)
			return err;
		err = cgroup_barrier(rt);
		if (err)
			return err;
		after = workqueue_nr_done(rt->netns.netns_wq) +
			workqueue_nr_done(rt->cgroup.cgroup_destroy_wq);
	} while (after != before);
	return 0;
}

/* Either worker may queue work for the other after it stopped: that waits for the restart. */
int nsbpf_runtime_before_fork(struct nsbpf_runtime *rt)
{
	int err;

	err = workqueue_stop_worker(rt->netns.netns_wq);
	if (err)
		return err;
	err = workqueue_stop_worker(rt->cgroup.cgroup_destroy_wq);
	if (err)
		workqueue_start_worker(rt->netns.netns_wq);
	return err;
}

static int runtime_start_workers(struct nsbpf_runtime *rt)
{
	int err;

	err = workqueue_start_worker(rt->netns.netns_wq);
	if (err)
		return err;
	return workqueue_start_worker(rt->cgroup.cgroup_destroy_wq);
}

int nsbpf_runtime_after_fork_parent(struct nsbpf_runtime *rt)
{
	return runtime_start_workers(rt);
}

int nsbpf_runtime_after_fork_child(struct nsbpf_runtime *rt)
{
	return runtime_start_workers(rt);
}
