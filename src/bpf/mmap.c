// SPDX-License-Identifier: MIT
/*
 * mmap.c - user mappings of map fds: what mmap(2) of a BPF_F_MMAPABLE array (libbpf's global
 * data: .data, .bss, .rodata) or of a ring buffer gives, and what munmap(2) ends.
 *
 * The map layer makes the mapping (bpf_map_mmap: the kernel's checks, then pages shared with
 * the map); this file adds the file's part of the kernel's checks (a map fd opened read-only
 * cannot be mapped writable and shared) and remembers each mapping, because in the kernel a
 * mapping holds a reference on its map and a writable one counts as an active writer until
 * it is unmapped (freezing then fails with -EBUSY).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bpf.h"

/* One live mapping. Holds a reference on its map. */
struct bpf_user_mapping {
	struct bpf_user_mapping *next;
	uintptr_t addr;
	size_t len;
	struct bpf_map *map;
	bool writable;
};

/*
 * A view made in the caller's process from the map's memory file. The caller does not tell us
 * of its munmap(), so the view is not remembered: it holds no reference and does not count as a
 * writer that would keep BPF_MAP_FREEZE failing (docs/differences.md).
 */
static int mmap_for_caller(struct bpf_map *map, void *addr, size_t len, int prot, int flags,
			   int64_t off, void **out)
{
	struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS];
	size_t total = 0;
	uint64_t where = 0;
	int nr, i, memfd = -1, err;

	nr = bpf_map_mmap_segs(map, len, prot, flags, (uint64_t)off, segs);
	if (nr < 0)
		return nr;
	if (map->ops->map_mmap_file)
		map->ops->map_mmap_file(map, &memfd);
	for (i = 0; i < nr; i++)
		total += segs[i].len;
	err = memfd < 0 ? -ENODEV
			: bpf_caller->ops->mmap(bpf_caller->ctx, (uint64_t)(uintptr_t)addr, total,
						prot, flags, memfd, segs, (unsigned int)nr, &where);
	bpf_map_mmap_close(map, prot & PROT_WRITE);
	if (!err)
		*out = (void *)(uintptr_t)where;
	return err;
}

int nsbpf_fd_mmap(struct nsbpf_runtime *rt, void *addr, size_t len, int prot, int flags, int fd,
		  int64_t off, void **out)
{
	struct bpf_state *st = bpf_state_get(rt);
	struct bpf_user_mapping *m;
	struct bpf_file *file;
	struct bpf_map *map;
	int err;

	if (!st)
		return -ENOMEM;
	file = bpf_fd_get(st, fd);
	if (!file)
		return -EBADF;
	/* progs, links, BTF: anon inodes without an mmap operation */
	if (file->kind != BPF_FILE_MAP) {
		err = -ENODEV;
		goto out_put_file;
	}
	map = file->obj;
	if ((prot & PROT_WRITE) && (flags & MAP_SHARED) && !(file->fmode & BPF_MAP_FMODE_WRITE)) {
		err = -EACCES;
		goto out_put_file;
	}
	if (bpf_caller && bpf_caller->ops->mmap) {
		err = mmap_for_caller(map, addr, len, prot, flags, off, out);
		goto out_put_file;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto out_put_file;
	}
	err = bpf_map_mmap(map, addr, len, prot, flags, (uint64_t)off, out);
	if (err)
		goto err_free_m;
	bpf_map_inc(map);
	m->addr = (uintptr_t)*out;
	m->len = len;
	m->map = map;
	m->writable = (prot & PROT_WRITE) && (flags & MAP_SHARED);
	pthread_mutex_lock(&st->mmap_lock);
	m->next = st->mappings;
	st->mappings = m;
	pthread_mutex_unlock(&st->mmap_lock);
	goto out_put_file;

err_free_m:
	free(m);
out_put_file:
	bpf_file_put(file);
	return err;
}

static void mapping_release(struct bpf_user_mapping *m)
{
	bpf_map_mmap_close(m->map, m->writable);
	bpf_map_put(m->map);
	free(m);
}

int nsbpf_munmap(struct nsbpf_runtime *rt, void *addr, size_t len)
{
	struct bpf_state *st = bpf_state_peek(rt);
	uintptr_t start = (uintptr_t)addr, end = start + len;
	struct bpf_user_mapping **link, *m, *gone = NULL;
	int found = 0;

	if (!st)
		return 0;
	/*
	 * A mapping ends when its whole range is unmapped; a partial munmap leaves it counted,
	 * as the kernel's vma (and its map reference) lives on in the part that remains.
	 */
	pthread_mutex_lock(&st->mmap_lock);
	for (link = &st->mappings; (m = *link);) {
		if (m->addr >= start && m->addr + m->len <= end) {
			*link = m->next;
			m->next = gone;
			gone = m;
			found++;
		} else {
			link = &m->next;
		}
	}
	pthread_mutex_unlock(&st->mmap_lock);
	while ((m = gone)) {
		gone = m->next;
		mapping_release(m);
	}
	return found;
}

void bpf_mappings_free(struct bpf_state *st)
{
	struct bpf_user_mapping *m;

	while ((m = st->mappings)) {
		st->mappings = m->next;
		mapping_release(m);
	}
}
