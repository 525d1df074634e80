/* SPDX-License-Identifier: MIT */
/*
 * wire.h - the messages between a host process and its clients (wire.c).
 *
 * A client sends one request (type: enum shim_op) and reads messages until SHIM's DONE: while
 * the host runs the request it asks the client for what lives in the client (its memory, its
 * fds, its working directory), one WIRE_* message at a time, each answered with a REPLY.
 */
#ifndef NSBPF_SHIM_WIRE_H
#define NSBPF_SHIM_WIRE_H

#include <stdint.h>

enum wire_type {
	/* requests are enum shim_op values, below 100 */
	WIRE_DONE = 100, /* a[0]: the result; payload: the call's out bytes */
	WIRE_READ,	 /* a[0]: address, a[1]: length -> a[0]: 0/-EFAULT, payload: bytes */
	WIRE_WRITE,	 /* a[0]: address; payload: bytes -> a[0]: 0/-EFAULT */
	WIRE_READ_STR,	 /* a[0]: address, a[1]: count -> a[0]: length/-EFAULT, payload */
	WIRE_GET_FD,	 /* a[0]: the client's fd -> a[0]: 0/-EBADF, a[1]: cloexec, the fd */
	WIRE_PUT_FD,	 /* a[0]: cloexec, the fd -> a[0]: the client's fd number/-errno */
	WIRE_GETCWD,	 /* -> a[0]: 0/-errno, payload: the path */
	WIRE_MMAP,	 /* a[0..3]: addr, len, prot, flags; payload: segs; the memfd -> a[0] */
	WIRE_REPLY,
};

struct wire_msg {
	uint32_t type;
	uint32_t len; /* payload bytes that follow */
	int64_t a[6];
};

/* A request carries at most this many attr bytes; the host reads the rest as it needs. */
#define WIRE_ATTR_MAX 256
#define WIRE_PAYLOAD_MAX (1u << 30)

/* 0 or -EPIPE (the peer is gone). @fd < 0: none. */
int wire_send(int sock, const struct wire_msg *m, const void *payload, int fd);
/* *payload: malloc()ed (NUL-terminated) or NULL; *fd: a received fd or -1. 0 or -errno. */
int wire_recv(int sock, struct wire_msg *m, void **payload, int *fd);

#endif /* NSBPF_SHIM_WIRE_H */
