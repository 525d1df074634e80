// SPDX-License-Identifier: MIT
/*
 * wire.c - the messages between a host and its clients: a fixed header, a payload, and at most
 * one fd passed with SCM_RIGHTS. The connection is a SOCK_STREAM socketpair, so payloads have
 * no size limit; an fd rides on the header's first byte, and the receiver asks for ancillary
 * data on every header read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "shim.h"
#include "wire.h"

/* Sends @len bytes of @iov (modified), the fd (if >= 0) with the first of them. */
static int send_all(int sock, struct iovec *iov, int iovcnt, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (msg.msg_iovlen) {
		n = shim_libc()->sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int wire_send(int sock, const struct wire_msg *m, const void *payload, int fd)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)m, .iov_len = sizeof(*m) },
		{ .iov_base = (void *)payload, .iov_len = m->len },
	};

	return send_all(sock, iov, m->len ? 2 : 1, fd);
}

/* Reads exactly @len bytes; an fd that comes with them goes to *fd (else left alone). */
static int recv_all(int sock, void *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		struct iovec iov = { .iov_base = (char *)buf + done, .iov_len = len - done };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				      .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *cm;

		n = shim_libc()->recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(int)) && fd)
				memcpy(fd, CMSG_DATA(cm), sizeof(int));
		}
		done += (size_t)n;
	}
	return 0;
}

int wire_recv(int sock, struct wire_msg *m, void **payload, int *fd)
{
	int err;

	*payload = NULL;
	if (fd)
		*fd = -1;
	err = recv_all(sock, m, sizeof(*m), fd);
	if (err)
		return err;
	if (m->len > WIRE_PAYLOAD_MAX)
		return -EPROTO;
	if (!m->len)
		return 0;
	/* one spare byte: string payloads end in a NUL whatever was sent */
	*payload = calloc(1, (size_t)m->len + 1);
	if (!*payload)
		return -ENOMEM;
	err = recv_all(sock, *payload, m->len, fd);
	if (err) {
		free(*payload);
		*payload = NULL;
	}
	return err;
}
