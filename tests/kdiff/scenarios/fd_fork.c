// SPDX-License-Identifier: MIT
/*
 * fd_fork.c - kdiff scenario: a forked child's copy of an fd keeps the object alive after the
 * parent closes its own, and the child's last close releases it.
 *
 * Under the preload shim the fork makes the process hand its runtime to a host process that
 * both then use (shim/README.md): this is the scenario that shows they share one object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "../transcript.h"

static void lookup_id(enum tr_kind kind, __u32 id)
{
	int fd = kind == TR_MAP ? bpf_map_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);

	tr_fd(fd, "get_fd_by_id(%s)", tr_id(kind, id));
	if (fd >= 0)
		tr_close(fd);
}

int main(void)
{
	int m, pipefd[2], status;
	pid_t child;
	__u32 mid;
	char c;

	tr_say("# fork: the child's fd keeps the map");
	m = tr_fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "forked", 4, 8, 1, NULL),
		  "bpf_map_create(ARRAY, \"forked\")");
	mid = tr_obj_id(TR_MAP, m);
	if (pipe(pipefd))
		return 1;
	fflush(stdout);
	child = fork();
	if (child == 0) {
		/* Waits until the parent has closed its fd, then uses its own copy. */
		close(pipefd[1]);
		if (read(pipefd[0], &c, 1) != 1)
			_exit(2);
		tr_update(m, 0, 7, BPF_ANY);
		lookup_id(TR_MAP, mid);
		tr_close(m);
		fflush(stdout);
		_exit(0);
	}
	close(pipefd[0]);
	tr_close(m);
	lookup_id(TR_MAP, mid);
	if (write(pipefd[1], "x", 1) != 1)
		return 1;
	close(pipefd[1]);
	waitpid(child, &status, 0);
	tr_say("child exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	/* The child's close was its last reference: released before its exit completed. */
	lookup_id(TR_MAP, mid);

	return tr_end();
}
