// SPDX-License-Identifier: MIT
/*
 * fd_pass.c - kdiff scenario: bpf fds passed to another process over a unix socket
 * (SCM_RIGHTS) name the sender's objects there; the object lives until the last copy in either
 * process is closed.
 *
 * The receiver is forked before the sender makes any bpf() call, so under the shim it starts
 * with no runtime of its own and must reach the sender's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static int send_fds(int sock, const int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fds(int sock, int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN((size_t)n * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
	return 0;
}

static void lookup_id(enum tr_kind kind, __u32 id)
{
	int fd = kind == TR_MAP ? bpf_map_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);

	tr_fd(fd, "get_fd_by_id(%s)", tr_id(kind, id));
	if (fd >= 0)
		tr_close(fd);
}

/* The receiver: uses what it got, then closes it; its prints come before the sender's next. */
static void receiver(int sock)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int fds[2];
	__u64 val;

	char go;

	/* The fds first, then a go once the sender has printed what it did meanwhile. */
	if (recv_fds(sock, fds, 2) || read(sock, &go, 1) != 1)
		_exit(2);
	tr_say("# the receiver");
	tr_fd(fds[0], "received map");
	tr_fd(fds[1], "received prog");
	tr_lookup(fds[0], 0, &val);
	tr_update(fds[0], 0, 9, BPF_ANY);
	memset(&info, 0, sizeof(info));
	tr_rc(bpf_obj_get_info_by_fd(fds[0], &info, &len), "map_info(received map)");
	tr_say("  name = \"%s\", max_entries = %u", info.name, info.max_entries);
	tr_fdinfo(fds[1]);
	tr_close(fds[1]);
	tr_close(fds[0]);
	fflush(stdout);
	_exit(0);
}

int main(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int sv[2], fds[2], status;
	__u32 mid, pid;
	__u64 val;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 1;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(sv[0]);
		receiver(sv[1]);
	}
	close(sv[1]);
	tr_begin("fd_pass");
	tr_say("# SCM_RIGHTS: the receiver reaches the sender's objects");
	fds[0] = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "passed", 4, 8, 1, NULL),
		       "bpf_map_create(ARRAY, \"passed\")");
	mid = tr_obj_id(TR_MAP, fds[0]);
	tr_update(fds[0], 0, 5, BPF_ANY);
	fds[1] = tr_fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "passed", "GPL", insns, 2, NULL),
		       "bpf_prog_load(SOCKET_FILTER, \"passed\")");
	pid = tr_obj_id(TR_PROG, fds[1]);
	tr_rc(send_fds(sv[0], fds, 2), "sendmsg(SCM_RIGHTS map, prog)");
	/* The prog's only fd is now the receiver's. */
	tr_close(fds[1]);
	fflush(stdout);
	if (write(sv[0], "g", 1) != 1)
		return 1;
	if (waitpid(child, &status, 0) != child)
		return 1;
	tr_say("receiver exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	tr_say("# the sender again");
	tr_lookup(fds[0], 0, &val);
	lookup_id(TR_PROG, pid);
	tr_close(fds[0]);
	lookup_id(TR_MAP, mid);
	close(sv[0]);
	return tr_end();
}
