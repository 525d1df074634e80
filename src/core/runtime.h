/* SPDX-License-Identifier: MIT */
/*
 * runtime.h - what struct nsbpf_runtime (opaque in <nsbpf/runtime.h>) holds: the state of
 * each subsystem of one virtual kernel, the kernel's global variables made per instance.
 * Subsystems reach each other's state through the runtime their objects point to (net->rt,
 * task->rt, cgrp->rt), never through anything global.
 *
 * The public handles are the internal objects; the helpers below are the only casts between
 * the two.
 */
#ifndef NSBPF_CORE_RUNTIME_H
#define NSBPF_CORE_RUNTIME_H

#include "nsbpf/runtime.h"

#include "cgroup.h"
#include "dev.h"
#include "net_namespace.h"
#include "nsproxy.h"
#include "task.h"

/*
 * State of a layer above core (the BPF subsystem) hung on the runtime: core cannot know its
 * type, so the layer gives the destructor, which nsbpf_runtime_free() calls first, while
 * every core object still exists.
 */
struct runtime_ext {
	void *state;
	void (*free)(struct nsbpf_runtime *rt, void *state);
};

struct nsbpf_runtime {
	struct runtime_ext bpf; /* src/bpf's struct bpf_state, set on its first use */
	struct netns_state netns;
	struct netdev_state netdev;
	struct nsproxy_state nsproxy;
	struct task_state tasks;
	struct cgroup_state cgroup;
};

static inline struct net *net_from_handle(const struct nsbpf_net *h)
{
	return (struct net *)h;
}

static inline struct nsbpf_net *net_to_handle(struct net *net)
{
	return (struct nsbpf_net *)net;
}

static inline struct task_struct *task_from_handle(const struct nsbpf_task *h)
{
	return (struct task_struct *)h;
}

static inline struct nsbpf_task *task_to_handle(struct task_struct *tsk)
{
	return (struct nsbpf_task *)tsk;
}

static inline struct cgroup *cgroup_from_handle(const struct nsbpf_cgroup *h)
{
	return (struct cgroup *)h;
}

static inline struct nsbpf_cgroup *cgroup_to_handle(struct cgroup *cgrp)
{
	return (struct nsbpf_cgroup *)cgrp;
}

#endif /* NSBPF_CORE_RUNTIME_H */
