// SPDX-License-Identifier: MIT
/*
 * host.c - the process that holds a runtime for several processes.
 *
 * The kernel shares one object between every process holding an fd of it: after fork() both
 * the parent and the child see the same map, and the object dies with the last close in
 * either. A runtime lives in one address space, so when a process that has one forks, the
 * shim first forks (twice, so that the process never sees it as a child of its own: wait()
 * must not find it) a copy of the process that keeps the runtime and serves it: the host.
 * The process's fds become sockets whose other ends the host keeps (nsbpf_fd_share_all()),
 * and the process, then its children, become the host's clients (client.c).
 *
 * The host has one thread serving its clients' requests one at a time, running the same ops as
 * an in-process call (ops.c) as the client's task, with the client as the caller
 * (nsbpf_set_caller()): reads and writes of user memory and fds are asked of the client over
 * its connection while the request runs. It closes every fd of the process it was copied
 * from except the runtime's own, so that no pipe or terminal of the application is held open
 * by it, and works from "/". It exits when no client is left and no fd of its files is open
 * anywhere; the objects pinned in its bpffs go with it, as the in-process runtime's go with
 * its process.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "nsbpf/bpf.h"
#include "shim.h"
#include "wire.h"

/* What an epoll event is about: the first member of each. */
enum host_source { HOST_CLIENT, HOST_LISTENER, HOST_SHARED };

struct host_client {
	enum host_source source;
	struct host_client *next;
	int sock;
	struct nsbpf_task *task; /* the process as the runtime knows it; exits with it */
	bool dead;		 /* the connection broke during a request */
	/* The attr bytes the request came with: reads within them need no round trip. */
	uint64_t attr_addr;
	size_t attr_len;
	unsigned char attr[WIRE_ATTR_MAX];
};

struct host_listener {
	enum host_source source;
	int sock;
};

struct host {
	struct nsbpf_runtime *rt;
	struct host_client *clients;
	int epoll;
	/* Where processes that received one of our files connect: the names of the process the
	 * host was forked from (its sockets' SO_PEERCRED) and of the host itself. */
	struct host_listener listeners[2];
	enum host_source shared; /* the event of nsbpf_fd_shared_wait_fd() */
	bool wait_fd_added;
};

/* ---- The caller: the client the request is for ----------------------------------------- */

/* Sends a question and reads the reply: 0, or -EPIPE with the client marked dead. */
static int ask(struct host_client *cl, struct wire_msg *m, const void *payload, int fd,
	       void **answer, int *rfd)
{
	if (cl->dead)
		return -EPIPE;
	if (wire_send(cl->sock, m, payload, fd) || wire_recv(cl->sock, m, answer, rfd) ||
	    m->type != WIRE_REPLY) {
		cl->dead = true;
		return -EPIPE;
	}
	return 0;
}

static int caller_read(void *ctx, void *dst, uint64_t src, size_t len)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_READ, .a = { (int64_t)src, (int64_t)len } };
	void *data;

	if (src >= cl->attr_addr && len <= cl->attr_len && src - cl->attr_addr <= cl->attr_len - len) {
		memcpy(dst, cl->attr + (src - cl->attr_addr), len);
		return 0;
	}
	if (ask(cl, &m, NULL, -1, &data, NULL))
		return -EFAULT;
	if (!m.a[0] && m.len == len)
		memcpy(dst, data, len);
	else if (!m.a[0])
		m.a[0] = -EFAULT;
	free(data);
	return (int)m.a[0];
}

static int caller_write(void *ctx, uint64_t dst, const void *src, size_t len)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_WRITE, .len = (uint32_t)len, .a = { (int64_t)dst } };
	void *data;
	size_t i;

	if (len > WIRE_PAYLOAD_MAX)
		return -EFAULT;
	/* What the request brought must read back as written. */
	for (i = 0; i < len; i++) {
		if (dst + i >= cl->attr_addr && dst + i - cl->attr_addr < cl->attr_len)
			cl->attr[dst + i - cl->attr_addr] = ((const unsigned char *)src)[i];
	}
	if (ask(cl, &m, src, -1, &data, NULL))
		return -EFAULT;
	free(data);
	return (int)m.a[0];
}

static long caller_read_str(void *ctx, char *dst, uint64_t src, size_t count)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_READ_STR, .a = { (int64_t)src, (int64_t)count } };
	void *data;

	if (ask(cl, &m, NULL, -1, &data, NULL))
		return -EFAULT;
	if (m.a[0] >= 0 && (size_t)m.a[0] <= count && m.len == (uint32_t)m.a[0]) {
		memcpy(dst, data, m.len);
		if ((size_t)m.a[0] < count)
			dst[m.a[0]] = '\0';
	} else if (m.a[0] >= 0) {
		m.a[0] = -EFAULT;
	}
	free(data);
	return (long)m.a[0];
}

static int caller_get_fd(void *ctx, int fd, bool *cloexec)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_GET_FD, .a = { fd } };
	void *data;
	int rfd;

	if (ask(cl, &m, NULL, -1, &data, &rfd))
		return -EBADF;
	free(data);
	if (m.a[0] || rfd < 0) {
		if (rfd >= 0)
			close(rfd);
		return -EBADF;
	}
	*cloexec = m.a[1];
	return rfd;
}

static int caller_put_fd(void *ctx, int fd, bool cloexec)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_PUT_FD, .a = { cloexec } };
	void *data;

	if (ask(cl, &m, NULL, fd, &data, NULL))
		return -EBADF;
	free(data);
	return (int)m.a[0];
}

static int caller_getcwd(void *ctx, char *buf, size_t size)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_GETCWD };
	void *data;

	if (ask(cl, &m, NULL, -1, &data, NULL))
		return -EFAULT;
	if (!m.a[0] && (!data || m.len > size))
		m.a[0] = -ERANGE;
	if (!m.a[0])
		memcpy(buf, data, m.len);
	free(data);
	return (int)m.a[0];
}

static int caller_mmap(void *ctx, uint64_t addr, size_t len, int prot, int flags, int memfd,
			const struct nsbpf_mmap_seg *segs, unsigned int nr, uint64_t *out)
{
	struct host_client *cl = ctx;
	struct wire_msg m = { .type = WIRE_MMAP,
			      .len = (uint32_t)(nr * sizeof(*segs)),
			      .a = { (int64_t)addr, (int64_t)len, prot, flags } };
	void *data;

	if (ask(cl, &m, segs, memfd, &data, NULL))
		return -ENOMEM;
	free(data);
	if (m.a[0] < 0 && m.a[0] > -4096)
		return (int)m.a[0];
	*out = (uint64_t)m.a[0];
	return 0;
}

static const struct nsbpf_caller_ops host_caller_ops = {
	.read = caller_read,
	.write = caller_write,
	.read_str = caller_read_str,
	.get_fd = caller_get_fd,
	.put_fd = caller_put_fd,
	.getcwd = caller_getcwd,
	.mmap = caller_mmap,
};

/* ---- Clients ------------------------------------------------------------------------------ */

static int client_add(struct host *h, int sock, struct nsbpf_task *task)
{
	struct host_client *cl = calloc(1, sizeof(*cl));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!cl)
		return -ENOMEM;
	cl->source = HOST_CLIENT;
	cl->sock = sock;
	cl->task = task;
	ev.data.ptr = cl;
	if (epoll_ctl(h->epoll, EPOLL_CTL_ADD, sock, &ev)) {
		free(cl);
		return -errno;
	}
	cl->next = h->clients;
	h->clients = cl;
	return 0;
}

/* The client is gone (exited, or its connection broke): so is its task. */
static void client_remove(struct host *h, struct host_client *cl)
{
	struct host_client **pp = &h->clients;

	while (*pp != cl)
		pp = &(*pp)->next;
	*pp = cl->next;
	epoll_ctl(h->epoll, EPOLL_CTL_DEL, cl->sock, NULL);
	close(cl->sock);
	nsbpf_task_exit(cl->task);
	free(cl);
}

/* SHIM_OP_FORK: the connection of a child about to be forked, which starts as our task's copy. */
static long client_fork(struct host *h, struct host_client *cl, int sock)
{
	struct nsbpf_task *task;
	int err;

	if (sock < 0)
		return -EBADF;
	err = nsbpf_task_new(h->rt, cl->task, &task);
	if (!err) {
		err = client_add(h, sock, task);
		if (err)
			nsbpf_task_exit(task);
	}
	if (err)
		close(sock);
	return err;
}

/* Reads one request of @cl and answers it. Returns false when the client is gone. */
static bool client_serve(struct host *h, struct host_client *cl)
{
	struct nsbpf_caller caller = { .ops = &host_caller_ops, .ctx = cl };
	char out[SHIM_OUT_MAX];
	struct shim_call c = { .out = out };
	struct wire_msg m;
	void *payload, *result;
	long ret;
	int fd;

	if (wire_recv(cl->sock, &m, &payload, &fd))
		return false;
	c.op = (enum shim_op)m.type;
	memcpy(c.a, m.a, sizeof(c.a));
	switch (c.op) {
	case SHIM_OP_FORK:
		ret = client_fork(h, cl, fd);
		fd = -1;
		break;
	case SHIM_OP_SYNC:
		nsbpf_fd_shared_reap(h->rt);
		ret = 0;
		break;
	case SHIM_OP_MUNMAP:
		/* Views made for clients are not remembered (mmap.c). */
		ret = 0;
		break;
	default:
		if (m.type >= SHIM_OP_MAX) {
			ret = -EINVAL;
			break;
		}
		if (c.op == SHIM_OP_BPF) {
			cl->attr_addr = (uint64_t)c.a[1];
			cl->attr_len = (size_t)c.a[3] <= m.len ? (size_t)c.a[3] : 0;
			memcpy(cl->attr, payload, cl->attr_len < sizeof(cl->attr) ? cl->attr_len : 0);
		} else {
			c.str = payload;
		}
		nsbpf_set_current_task(h->rt, cl->task);
		nsbpf_set_caller(&caller);
		ret = shim_op_local(h->rt, cl->task, &c);
		nsbpf_set_caller(NULL);
		cl->attr_len = 0;
		break;
	}
	if (fd >= 0)
		close(fd);
	free(payload);
	result = c.out_alloc ? c.out_alloc : out;
	m = (struct wire_msg){ .type = WIRE_DONE, .len = (uint32_t)c.out_len, .a = { ret } };
	if (!cl->dead && wire_send(cl->sock, &m, result, -1))
		cl->dead = true;
	free(c.out_alloc);
	/* A file handed over to a client that died on the way is released here too. */
	nsbpf_fd_shared_reap(h->rt);
	return !cl->dead;
}

/* ---- The host process --------------------------------------------------------------------- */

/* Closes what the process it was copied from had open; the runtime's own fds stay. */
static void host_close_inherited(struct nsbpf_runtime *rt, int keep)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int fd, devnull;
	ssize_t n;

	if (!d)
		return;
	while ((de = readdir(d))) {
		fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dirfd(d) || fd == keep || nsbpf_fd_internal(rt, fd))
			continue;
		/*
		 * eventfds are the runtime's (ring buffer wakeups) or harmless to keep; the maps'
		 * memory files are the runtime's (bpf_map_keep_memfd).
		 */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (!strcmp(link, "anon_inode:[eventfd]") || !strncmp(link, "/memfd:bpf-", 11))
				continue;
		}
		close(fd);
	}
	closedir(d);
	devnull = open("/dev/null", O_RDWR);
	for (fd = 0; devnull >= 0 && fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			dup2(devnull, fd);
	}
	if (devnull > 2)
		close(devnull);
}

/* Listens for processes with @pid's sockets; a name already taken is left to its holder. */
static void host_listen(struct host *h, struct host_listener *l, pid_t pid)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	struct sockaddr_un addr;
	socklen_t len;

	l->source = HOST_LISTENER;
	l->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->sock < 0)
		return;
	shim_host_address(pid, &addr, &len);
	if (bind(l->sock, (struct sockaddr *)&addr, len) || listen(l->sock, 16) ||
	    epoll_ctl(h->epoll, EPOLL_CTL_ADD, l->sock, &ev)) {
		close(l->sock);
		l->sock = -1;
	}
}

/*
 * A process that received one of our files connects: it starts as a task of the initial
 * namespaces, as a process unrelated to the others would. Only processes of our own user.
 */
static void host_accept(struct host *h, struct host_listener *l)
{
	struct nsbpf_task *task;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int sock = accept4(l->sock, NULL, NULL, SOCK_CLOEXEC);

	if (sock < 0)
		return;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid() ||
	    nsbpf_task_new(h->rt, NULL, &task)) {
		close(sock);
		return;
	}
	if (client_add(h, sock, task)) {
		nsbpf_task_exit(task);
		close(sock);
	}
}

static void host_watch_shared(struct host *h)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &h->shared };
	int fd;

	if (h->wait_fd_added)
		return;
	fd = nsbpf_fd_shared_wait_fd(h->rt);
	if (fd >= 0 && !epoll_ctl(h->epoll, EPOLL_CTL_ADD, fd, &ev))
		h->wait_fd_added = true;
}

static __attribute__((noreturn)) void host_main(struct nsbpf_runtime *rt,
						struct nsbpf_task *task, int sock, pid_t origin,
						const int *fds, size_t nr_fds)
{
	struct host h = { .rt = rt, .shared = HOST_SHARED };
	struct epoll_event evs[16];
	size_t i;
	int n;

	prctl(PR_SET_NAME, "nsbpf-host");
	signal(SIGPIPE, SIG_IGN);
	if (chdir("/"))
		_exit(1);
	/* The fd numbers were the forking process's: the sockets hold the files now. */
	for (i = 0; i < nr_fds; i++)
		nsbpf_fd_forget(rt, fds[i]);
	host_close_inherited(rt, sock);
	h.epoll = epoll_create1(EPOLL_CLOEXEC);
	if (h.epoll < 0 || client_add(&h, sock, task))
		_exit(1);
	host_listen(&h, &h.listeners[0], origin);
	host_listen(&h, &h.listeners[1], getpid());
	for (;;) {
		host_watch_shared(&h);
		if (!h.clients && nsbpf_fd_shared_reap(rt) == 0)
			_exit(0);
		n = epoll_wait(h.epoll, evs, (int)(sizeof(evs) / sizeof(evs[0])), -1);
		if (n < 0 && errno != EINTR)
			_exit(1);
		for (i = 0; n > 0 && i < (size_t)n; i++) {
			enum host_source *source = evs[i].data.ptr;

			if (*source == HOST_SHARED)
				nsbpf_fd_shared_reap(rt);
			else if (*source == HOST_LISTENER)
				host_accept(&h, (struct host_listener *)source);
			else if (!client_serve(&h, (struct host_client *)source))
				client_remove(&h, (struct host_client *)source);
		}
	}
}

int shim_host_start(struct nsbpf_runtime *rt, struct nsbpf_task *task)
{
	size_t nr_fds = 0, nr_peers = 0, i;
	int *fds, *peers, sv[2], status, err;
	long max = sysconf(_SC_OPEN_MAX);
	pid_t pid, origin = getpid();

	if (max < 0 || max > (1 << 20))
		max = 1 << 20;
	fds = malloc((size_t)max * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (i = 0; i < (size_t)max; i++) {
		if (nsbpf_fd_owned(rt, (int)i))
			fds[nr_fds++] = (int)i;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		err = -errno;
		goto out_free;
	}
	err = nsbpf_fd_share_all(rt, &peers, &nr_peers);
	if (err)
		goto err_close;
	/*
	 * The forks are _Fork(): no fork handler runs in the middle process, which only forks
	 * again and exits, nor in the host, which sets itself up below. Everything they would
	 * do is done here: the runtime's workers end (nothing is copied in the middle of a
	 * work item or holding a lock), call_rcu's threads pause.
	 */
	nsbpf_runtime_before_fork(rt);
	urcu_memb_call_rcu_before_fork();
	pid = _Fork();
	if (pid == 0) {
		/* The middle process: gone at once, so that the host is nobody's child. */
		pid = _Fork();
		if (pid)
			_exit(pid < 0 ? 1 : 0);
		/* wrappers pass to libc before any worker of the runtime runs again */
		shim_set_host();
		urcu_memb_call_rcu_after_fork_child();
		if (nsbpf_runtime_after_fork_child(rt))
			_exit(1);
		close(sv[1]);
		host_main(rt, task, sv[0], origin, fds, nr_fds);
	}
	urcu_memb_call_rcu_after_fork_parent();
	/* The runtime here is left for good if the host starts; else it goes on. */
	if (pid < 0)
		nsbpf_runtime_after_fork_parent(rt);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		if (pid >= 0)
			nsbpf_runtime_after_fork_parent(rt);
		/*
		 * The fds are sockets now, but the table still knows them by number; the
		 * runtime keeps the peers (their files are released when it is freed).
		 */
		err = -EAGAIN;
		free(peers);
		goto err_close;
	}
	close(sv[0]);
	for (i = 0; i < nr_peers; i++)
		close(peers[i]);
	free(peers);
	shim_client_start(sv[1], fds, nr_fds);
	err = 0;
	goto out_free;

err_close:
	close(sv[0]);
	close(sv[1]);
out_free:
	free(fds);
	return err;
}
