/* SPDX-License-Identifier: MIT */
/*
 * fd_count.h - how many fds the process has open, for tests that show a runtime leaves none
 * behind.
 */
#ifndef NSBPF_TESTS_FD_COUNT_H
#define NSBPF_TESTS_FD_COUNT_H

#include <dirent.h>
#include <stdlib.h>

/* The entries of /proc/self/fd (the directory's own fd not counted), or -1. */
static inline int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && (int)strtol(e->d_name, NULL, 10) != dirfd(d))
			n++;
	closedir(d);
	return n;
}

#endif /* NSBPF_TESTS_FD_COUNT_H */
