// SPDX-License-Identifier: MIT
/*
 * paths.c - recognises the file names whose meaning the shim replaces: the namespace, fd and
 * fdinfo entries of the process's own /proc directory, the host's cgroup2 mount point (under
 * which the runtime's cgroup hierarchy takes the place of the host's) and bpffs. Only absolute
 * names are recognised, as written: "/proc/self/ns/net" and "/proc/1234/ns/net" (1234 being
 * getpid()) are the process's namespace, "/proc/1/ns/net" is another process's and stays the
 * kernel's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

#define BPFFS_MOUNT "/sys/fs/bpf"

/* Set once by paths_init(), before any classification; "" when there is none. */
static char cgroup_mount[PATH_MAX];
static pthread_once_t paths_once = PTHREAD_ONCE_INIT;

/* Undoes the octal escapes (\040 for a space) /proc/self/mounts writes in paths. */
static void unescape_mount_path(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static void paths_init(void)
{
	/* Read through the real libc: the process's own FILE calls may not be ready. */
	FILE *f = shim_libc()->fopen("/proc/self/mounts", "re");
	char line[2 * PATH_MAX], dir[PATH_MAX], type[64];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %4095s %63s", dir, type) != 2 || strcmp(type, "cgroup2"))
			continue;
		unescape_mount_path(dir);
		memcpy(cgroup_mount, dir, sizeof(dir));
		break;
	}
	fclose(f);
}

const char *shim_cgroup_mount(void)
{
	pthread_once(&paths_once, paths_init);
	return cgroup_mount[0] ? cgroup_mount : NULL;
}

/* A decimal number with nothing after it, else -1. */
static long parse_number(const char *s)
{
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -1;
	n = strtol(s, &end, 10);
	return *end || n > INT_MAX ? -1 : n;
}

/* Past "/proc/self/", "/proc/thread-self/" or "/proc/<getpid()>/", else NULL. */
static const char *skip_own_proc_dir(const char *path)
{
	const char *p, *slash;

	if (strncmp(path, "/proc/", 6))
		return NULL;
	p = path + 6;
	if (!strncmp(p, "self/", 5))
		return p + 5;
	if (!strncmp(p, "thread-self/", 12))
		return p + 12;
	slash = strchr(p, '/');
	if (!slash || slash == p || strtol(p, NULL, 10) != getpid())
		return NULL;
	for (; p < slash; p++)
		if (*p < '0' || *p > '9')
			return NULL;
	return slash + 1;
}

/* Whether @path is @dir or below it; *rest gets what follows @dir ("" or "/..."). */
static bool path_under(const char *path, const char *dir, const char **rest)
{
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (strncmp(path, dir, len) || (path[len] && path[len] != '/'))
		return false;
	*rest = path + len;
	return true;
}

/* @rest of a path as the runtime's cgroup calls take it: "/" for the root, no trailing '/'. */
static void cgroup_rel_path(const char *rest, char *rel)
{
	size_t len;

	snprintf(rel, PATH_MAX, "%s", *rest ? rest : "/");
	len = strlen(rel);
	while (len > 1 && rel[len - 1] == '/')
		rel[--len] = '\0';
}

enum shim_path_kind shim_path_classify(const char *path, int *fd, char *rel)
{
	const char *p, *rest;
	long n;

	if (!path || path[0] != '/')
		return SHIM_PATH_OTHER;
	pthread_once(&paths_once, paths_init);
	p = skip_own_proc_dir(path);
	if (p) {
		if (!strcmp(p, "ns/net"))
			return SHIM_PATH_NS_NET;
		if (!strncmp(p, "fdinfo/", 7) && (n = parse_number(p + 7)) >= 0) {
			*fd = (int)n;
			return SHIM_PATH_FDINFO;
		}
		if (!strncmp(p, "fd/", 3) && (n = parse_number(p + 3)) >= 0) {
			*fd = (int)n;
			return SHIM_PATH_FD;
		}
		return SHIM_PATH_OTHER;
	}
	if (cgroup_mount[0] && path_under(path, cgroup_mount, &rest)) {
		cgroup_rel_path(rest, rel);
		return SHIM_PATH_CGROUP;
	}
	if (path_under(path, BPFFS_MOUNT, &rest)) {
		snprintf(rel, PATH_MAX, "%s", path);
		return SHIM_PATH_BPFFS;
	}
	return SHIM_PATH_OTHER;
}
