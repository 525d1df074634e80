/* SPDX-License-Identifier: MIT */
/*
 * bpf-netns.h - programs attached to network namespaces (net_namespace.c), as the kernel's
 * include/linux/bpf-netns.h: the flow dissector (one program per namespace, attached directly
 * or by a link) and sk_lookup (up to 64 links per namespace).
 */
#ifndef NSBPF_BPF_BPF_NETNS_H
#define NSBPF_BPF_BPF_NETNS_H

#include <linux/bpf.h>

#include "bpf.h"

struct net;

enum netns_bpf_attach_type {
	NETNS_BPF_INVALID = -1,
	NETNS_BPF_FLOW_DISSECTOR = 0,
	NETNS_BPF_SK_LOOKUP,
	MAX_NETNS_BPF_ATTACH_TYPE
};

static inline enum netns_bpf_attach_type to_netns_bpf_attach_type(enum bpf_attach_type type)
{
	switch (type) {
	case BPF_FLOW_DISSECTOR:
		return NETNS_BPF_FLOW_DISSECTOR;
	case BPF_SK_LOOKUP:
		return NETNS_BPF_SK_LOOKUP;
	default:
		return NETNS_BPF_INVALID;
	}
}

/* The per-runtime part: registers the pernet operations that give each namespace its state. */
int netns_bpf_init(struct bpf_state *st);
/* Every namespace's programs and links go (links stay, defunct, while referenced). */
void netns_bpf_exit(struct bpf_state *st);

/* The commands, after the syscall layer's checks (SPEC §3). */
int netns_bpf_prog_query(struct bpf_state *st, const union bpf_attr *attr,
			 union bpf_attr *uattr);
/* @prog: the caller's reference, which the attachment takes over on success. */
int netns_bpf_prog_attach(struct bpf_state *st, const union bpf_attr *attr,
			  struct bpf_prog *prog);
int netns_bpf_prog_detach(struct bpf_state *st, const union bpf_attr *attr);
/* @prog: the caller's reference, which the link takes over on success. Returns the link fd. */
int netns_bpf_link_create(struct bpf_state *st, const union bpf_attr *attr,
			  struct bpf_prog *prog);

/*
 * What runs for @net and @type: an RCU-protected array, NULL when nothing is attached. The
 * caller holds rcu_read_lock() while it uses it.
 */
struct bpf_prog_array *netns_bpf_run_array(struct bpf_state *st, struct net *net,
					   enum netns_bpf_attach_type type);
/* Whether any namespace has an sk_lookup program (bpf_sk_lookup_enabled). */
bool netns_bpf_sk_lookup_enabled(struct bpf_state *st);

#endif /* NSBPF_BPF_BPF_NETNS_H */
