// SPDX-License-Identifier: MIT
/*
 * dir.c - directory streams on the runtime's bpffs. glibc's opendir() and readdir() make
 * their open and getdents64 calls inside libc, past any wrapper, so a bpffs directory (which
 * the host does not have) is served one level up: opendir() returns a DIR of our own holding
 * the listing the runtime gives, and every DIR function tells ours from libc's by looking it
 * up in a registry. The listing is taken at opendir() and again at rewinddir(), as glibc reads
 * the kernel's directory in one getdents64 batch at the first readdir() and again after a
 * rewind.
 *
 * Each stream holds a real fd, as the kernel's opendir does: dirfd() returns it, and the
 * *at() wrappers (shim_dir_fd_path()) resolve names relative to it in the bpffs directory.
 * It is an O_PATH fd on "/", which can neither read nor list anything of the host's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nsbpf/bpf.h"
#include "shim.h"

struct shim_dir {
	char *path;
	int fd;
	struct nsbpf_bpffs_dirent *ents;
	long n, pos;
	struct dirent ent;
	struct dirent64 ent64;
	struct shim_dir *next;
};

static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_dir *dirs;
/* How many are open: readdir() of libc's DIRs skips the lock while there are none. */
static atomic_int dirs_count;

static struct shim_dir *dir_find(DIR *d)
{
	struct shim_dir *sd;

	if (!atomic_load(&dirs_count))
		return NULL;
	pthread_mutex_lock(&dirs_lock);
	for (sd = dirs; sd && (DIR *)sd != d; sd = sd->next)
		;
	pthread_mutex_unlock(&dirs_lock);
	return sd;
}

bool shim_dir_fd_path(int fd, char *buf)
{
	struct shim_dir *sd;

	if (fd < 0 || !atomic_load(&dirs_count))
		return false;
	pthread_mutex_lock(&dirs_lock);
	for (sd = dirs; sd && sd->fd != fd; sd = sd->next)
		;
	if (sd)
		snprintf(buf, PATH_MAX, "%s", sd->path);
	pthread_mutex_unlock(&dirs_lock);
	return sd;
}

DIR *shim_opendir(const char *path)
{
	struct nsbpf_bpffs_dirent *ents;
	struct shim_dir *sd;
	long n = shim_bpffs_readdir(path, &ents);
	int err = ENOMEM;

	if (!n)
		return shim_libc()->opendir(path);
	if (n < 0) {
		errno = (int)-n;
		return NULL;
	}
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		goto out_free_ents;
	sd->path = strdup(path);
	if (!sd->path)
		goto out_free_sd;
	sd->fd = shim_libc()->openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (sd->fd < 0) {
		err = errno;
		goto out_free_path;
	}
	sd->ents = ents;
	sd->n = n;
	pthread_mutex_lock(&dirs_lock);
	sd->next = dirs;
	dirs = sd;
	atomic_fetch_add(&dirs_count, 1);
	pthread_mutex_unlock(&dirs_lock);
	return (DIR *)sd;

out_free_path:
	free(sd->path);
out_free_sd:
	free(sd);
out_free_ents:
	free(ents);
	errno = err;
	return NULL;
}

/* The next entry of @sd, or NULL at the end (errno untouched, as readdir()). */
static const struct nsbpf_bpffs_dirent *dir_next(struct shim_dir *sd)
{
	return sd->pos < sd->n ? &sd->ents[sd->pos++] : NULL;
}

struct dirent *shim_readdir(DIR *d)
{
	struct shim_dir *sd = dir_find(d);
	const struct nsbpf_bpffs_dirent *e;

	if (!sd)
		return shim_libc()->readdir(d);
	e = dir_next(sd);
	if (!e)
		return NULL;
	sd->ent.d_ino = e->ino;
	sd->ent.d_off = sd->pos;
	sd->ent.d_reclen = sizeof(sd->ent);
	sd->ent.d_type = e->type;
	snprintf(sd->ent.d_name, sizeof(sd->ent.d_name), "%s", e->name);
	return &sd->ent;
}

struct dirent64 *shim_readdir64(DIR *d)
{
	struct shim_dir *sd = dir_find(d);
	const struct nsbpf_bpffs_dirent *e;

	if (!sd)
		return shim_libc()->readdir64(d);
	e = dir_next(sd);
	if (!e)
		return NULL;
	sd->ent64.d_ino = e->ino;
	sd->ent64.d_off = sd->pos;
	sd->ent64.d_reclen = sizeof(sd->ent64);
	sd->ent64.d_type = e->type;
	snprintf(sd->ent64.d_name, sizeof(sd->ent64.d_name), "%s", e->name);
	return &sd->ent64;
}

int shim_closedir(DIR *d)
{
	struct shim_dir *sd = dir_find(d), **pp;

	if (!sd)
		return shim_libc()->closedir(d);
	pthread_mutex_lock(&dirs_lock);
	for (pp = &dirs; *pp != sd; pp = &(*pp)->next)
		;
	*pp = sd->next;
	atomic_fetch_sub(&dirs_count, 1);
	pthread_mutex_unlock(&dirs_lock);
	shim_libc()->close(sd->fd);
	free(sd->ents);
	free(sd->path);
	free(sd);
	return 0;
}

void shim_rewinddir(DIR *d)
{
	struct shim_dir *sd = dir_find(d);
	struct nsbpf_bpffs_dirent *ents;
	long n;

	if (!sd) {
		shim_libc()->rewinddir(d);
		return;
	}
	/* A directory removed since lists nothing, as the kernel's dead directory. */
	n = shim_bpffs_readdir(sd->path, &ents);
	free(sd->ents);
	sd->ents = n > 0 ? ents : NULL;
	sd->n = n > 0 ? n : 0;
	sd->pos = 0;
}

long shim_telldir(DIR *d)
{
	struct shim_dir *sd = dir_find(d);

	return sd ? sd->pos : shim_libc()->telldir(d);
}

void shim_seekdir(DIR *d, long loc)
{
	struct shim_dir *sd = dir_find(d);

	if (!sd)
		shim_libc()->seekdir(d, loc);
	else if (loc >= 0)
		sd->pos = loc < sd->n ? loc : sd->n;
}

int shim_dirfd(DIR *d)
{
	struct shim_dir *sd = dir_find(d);

	return sd ? sd->fd : shim_libc()->dirfd(d);
}
