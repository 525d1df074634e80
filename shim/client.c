// SPDX-License-Identifier: MIT
/*
 * client.c - a process whose runtime lives in a host process (host.c): its calls are sent
 * there, and it answers the host's questions about its own memory and fds while they run.
 *
 * The host's files are sockets in this process's fd table; which fd numbers are such files is
 * recorded here (a byte per fd), kept true by the close and dup wrappers, so that the calls
 * on other fds never leave the process. After closing one of them the client asks the host to
 * sync: the host then releases the objects whose last fd anywhere that was, before close()
 * returns, as the kernel does.
 *
 * One connection per process, used by one thread at a time (client_lock). A forked child gets
 * a connection of its own, announced by its parent before the fork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nsbpf/bpf.h"
#include "shim.h"
#include "wire.h"

static _Atomic int client_sock = -1; /* the connection to the host; -1: not a client */
static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER; /* one call at a time */

/* Which fds are the host's files; under client_fd_lock. */
static pthread_mutex_t client_fd_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *client_fds;
static size_t client_nr_fds;

bool shim_client_active(void)
{
	return atomic_load_explicit(&client_sock, memory_order_acquire) >= 0;
}

bool shim_client_fd_ours(int fd)
{
	bool ours;

	if (fd < 0)
		return false;
	pthread_mutex_lock(&client_fd_lock);
	ours = (size_t)fd < client_nr_fds && client_fds[fd];
	pthread_mutex_unlock(&client_fd_lock);
	return ours;
}

void shim_client_fd_set(int fd, bool ours)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&client_fd_lock);
	if ((size_t)fd >= client_nr_fds && ours) {
		size_t nr = client_nr_fds ? client_nr_fds : 64;
		unsigned char *fds;

		while (nr <= (size_t)fd)
			nr *= 2;
		fds = realloc(client_fds, nr);
		if (fds) {
			memset(fds + client_nr_fds, 0, nr - client_nr_fds);
			client_fds = fds;
			client_nr_fds = nr;
		}
	}
	if ((size_t)fd < client_nr_fds)
		client_fds[fd] = ours;
	pthread_mutex_unlock(&client_fd_lock);
}

/*
 * Moves the connection to a high fd number: a process expects the fds the kernel would give it
 * (the lowest free ones), and a low connection would shift every later fd by one.
 */
static int fd_move_high(int fd)
{
	struct rlimit rl;
	int high;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 256)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur > 1024 ? 1024 : rl.rlim_cur) - 128);
	if (high < 0)
		return fd;
	shim_libc()->close(fd);
	return high;
}

void shim_client_start(int sock, const int *fds, size_t nr_fds)
{
	size_t i;

	sock = fd_move_high(sock);
	for (i = 0; i < nr_fds; i++)
		shim_client_fd_set(fds[i], true);
	atomic_store_explicit(&client_sock, sock, memory_order_release);
}

static int reply(int sock, int64_t ret, const void *payload, uint32_t len, int fd)
{
	struct wire_msg m = { .type = WIRE_REPLY, .len = len, .a = { ret } };

	return wire_send(sock, &m, payload, fd);
}

/* A view of a map's memory file (its pieces end to end): the address or -errno. */
static long client_mmap(const struct wire_msg *q, const struct nsbpf_mmap_seg *segs, int memfd)
{
	const struct shim_libc *libc = shim_libc();
	size_t nr = q->len / sizeof(*segs), i, pos = 0;
	int prot = (int)q->a[2], flags = (int)q->a[3];
	char *area;
	long err = 0;

	if (memfd < 0)
		return -ENODEV;
	area = libc->mmap((void *)(uintptr_t)q->a[0], (size_t)q->a[1], PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
	if (area == MAP_FAILED)
		err = -errno;
	for (i = 0; !err && i < nr; pos += segs[i].len, i++) {
		if (libc->mmap(area + pos, segs[i].len, prot, MAP_SHARED | MAP_FIXED, memfd,
			       (off_t)segs[i].file_off) == MAP_FAILED)
			err = -errno;
	}
	if (err && area != MAP_FAILED)
		libc->munmap(area, (size_t)q->a[1]);
	libc->close(memfd);
	return err ? err : (long)area;
}

/* One question of the host about this process; 0, or -EPIPE when the host is gone. */
static int answer(int sock, const struct wire_msg *q, const void *payload, int fd)
{
	char cwd[4096];
	void *buf;
	long ret;
	int err;

	switch (q->type) {
	case WIRE_READ:
		buf = malloc(q->a[1] ? (size_t)q->a[1] : 1);
		if (!buf)
			return reply(sock, -EFAULT, NULL, 0, -1);
		ret = nsbpf_copy_from_user(buf, (const void *)(uintptr_t)q->a[0], (size_t)q->a[1]);
		err = reply(sock, ret, buf, ret ? 0 : (uint32_t)q->a[1], -1);
		free(buf);
		return err;
	case WIRE_WRITE:
		return reply(sock, nsbpf_copy_to_user((void *)(uintptr_t)q->a[0], payload, q->len),
			     NULL, 0, -1);
	case WIRE_READ_STR:
		buf = malloc((size_t)q->a[1] + 1);
		if (!buf)
			return reply(sock, -EFAULT, NULL, 0, -1);
		ret = nsbpf_strncpy_from_user(buf, (const void *)(uintptr_t)q->a[0],
					      (size_t)q->a[1]);
		err = reply(sock, ret, buf, ret < 0 ? 0 : (uint32_t)ret, -1);
		free(buf);
		return err;
	case WIRE_GET_FD: {
		int flags = fcntl((int)q->a[0], F_GETFD);
		struct wire_msg m = { .type = WIRE_REPLY, .a = { 0, flags & FD_CLOEXEC } };

		if (flags < 0) {
			m.a[0] = -EBADF;
			return wire_send(sock, &m, NULL, -1);
		}
		return wire_send(sock, &m, NULL, (int)q->a[0]);
	}
	case WIRE_PUT_FD:
		if (fd < 0)
			return reply(sock, -EBADF, NULL, 0, -1);
		/* received with O_CLOEXEC: a fork in another thread must not see it half-made */
		if (!q->a[0])
			fcntl(fd, F_SETFD, 0);
		shim_client_fd_set(fd, true);
		return reply(sock, fd, NULL, 0, -1);
	case WIRE_MMAP:
		return reply(sock, client_mmap(q, payload, fd), NULL, 0, -1);
	case WIRE_GETCWD:
		if (!getcwd(cwd, sizeof(cwd)))
			return reply(sock, -errno, NULL, 0, -1);
		return reply(sock, 0, cwd, (uint32_t)strlen(cwd) + 1, -1);
	default:
		return -EPROTO;
	}
}

/* The request's payload: the path, or for bpf() the first bytes of the attr. */
static void *request_payload(const struct shim_call *c, struct wire_msg *m, char *attr)
{
	size_t n;

	if (c->op == SHIM_OP_BPF) {
		n = (size_t)c->a[2] < WIRE_ATTR_MAX ? (size_t)c->a[2] : WIRE_ATTR_MAX;
		/* unreadable: the host asks for it and gets the -EFAULT the kernel would */
		if (nsbpf_copy_from_user(attr, (const void *)c->a[1], n))
			n = 0;
		m->a[3] = (int64_t)n;
		m->len = (uint32_t)n;
		return attr;
	}
	if (c->str)
		m->len = (uint32_t)strlen(c->str) + 1;
	return (void *)c->str;
}

/* The host's answer to @c, as the call's result. */
static long take_done(struct shim_call *c, const struct wire_msg *m, void *payload)
{
	long ret = (long)m->a[0];

	c->out_len = m->len;
	if (c->op == SHIM_OP_READDIR) {
		c->out_alloc = payload;
		return ret;
	}
	if (c->out && m->len)
		memcpy(c->out, payload, m->len < SHIM_OUT_MAX ? m->len : SHIM_OUT_MAX);
	free(payload);
	return ret;
}

/* Sends @c with @fd and serves the host's questions until its answer. */
static long call_locked(int sock, struct shim_call *c, int fd)
{
	char attr[WIRE_ATTR_MAX];
	struct wire_msg m = { .type = (uint32_t)c->op };
	void *payload;
	int rfd, err;

	memcpy(m.a, c->a, sizeof(m.a));
	payload = request_payload(c, &m, attr);
	if (wire_send(sock, &m, payload, fd))
		return -EIO;
	for (;;) {
		err = wire_recv(sock, &m, &payload, &rfd);
		if (err)
			return -EIO;
		if (m.type == WIRE_DONE) {
			if (rfd >= 0)
				shim_libc()->close(rfd);
			return take_done(c, &m, payload);
		}
		err = answer(sock, &m, payload, rfd);
		free(payload);
		if (err)
			return -EIO;
	}
}

long shim_client_call(struct shim_call *c)
{
	long ret;

	pthread_mutex_lock(&client_lock);
	ret = call_locked(atomic_load(&client_sock), c, -1);
	pthread_mutex_unlock(&client_lock);
	return ret;
}

void shim_client_sync(void)
{
	struct shim_call c = { .op = SHIM_OP_SYNC };

	shim_client_call(&c);
}

/*
 * fork() of a client: the host learns of the child first (a connection made for it, and a
 * task forked from ours), then the child takes that connection.
 */
int shim_client_fork(void)
{
	struct shim_call c = { .op = SHIM_OP_FORK };
	int sv[2], old;
	long err;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	pthread_mutex_lock(&client_lock);
	err = call_locked(atomic_load(&client_sock), &c, sv[0]);
	shim_libc()->close(sv[0]);
	if (err) {
		pthread_mutex_unlock(&client_lock);
		shim_libc()->close(sv[1]);
		errno = err == -EIO ? EAGAIN : (int)-err;
		return -1;
	}
	pid = shim_libc()->fork();
	if (pid == 0) {
		old = atomic_exchange(&client_sock, fd_move_high(sv[1]));
		shim_libc()->close(old);
		/* another thread of the parent may have held them: this child has one thread */
		pthread_mutex_init(&client_lock, NULL);
		pthread_mutex_init(&client_fd_lock, NULL);
		return 0;
	}
	pthread_mutex_unlock(&client_lock);
	/* The child's end: if there is no child, the host sees it close and forgets the task. */
	shim_libc()->close(sv[1]);
	return pid;
}

int shim_host_address(pid_t pid, struct sockaddr_un *addr, socklen_t *len)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* abstract: sun_path[0] is NUL, and the name is not NUL-terminated */
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "nsbpf-host.%d", (int)pid);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	return 0;
}

/* A connection to the host that listens for process @pid's files: the socket or -errno. */
static int host_connect(pid_t pid)
{
	struct sockaddr_un addr;
	socklen_t len;
	int sock, err;

	shim_host_address(pid, &addr, &len);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (struct sockaddr *)&addr, len)) {
		err = -errno;
		shim_libc()->close(sock);
		return err;
	}
	return sock;
}

int shim_client_connect(pid_t pid)
{
	int sock = host_connect(pid);

	if (sock < 0)
		return sock;
	shim_client_start(sock, NULL, 0);
	return 0;
}

bool shim_client_adopt(int fd, pid_t pid)
{
	struct shim_call c = { .op = SHIM_OP_FDINFO, .a = { fd } };
	char text[SHIM_OUT_MAX];
	int sock = host_connect(pid);
	long ret;

	/* No host listens there: the socket is not a host's file. */
	if (sock < 0)
		return false;
	c.out = text;
	pthread_mutex_lock(&client_lock);
	ret = call_locked(sock, &c, -1);
	if (ret == SHIM_KERNEL || ret == -EIO || shim_client_active()) {
		pthread_mutex_unlock(&client_lock);
		shim_libc()->close(sock);
		return false;
	}
	shim_client_start(sock, &fd, 1);
	pthread_mutex_unlock(&client_lock);
	return true;
}
