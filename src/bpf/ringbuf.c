// SPDX-License-Identifier: MIT
/*
 * ringbuf.c - BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a multi-producer,
 * single-consumer byte ring that programs write records into and user space reads.
 *
 * The memory layout is the kernel's, because libbpf reads it directly: a consumer page
 * (consumer_pos, written by user space), a producer page (producer_pos), then the data
 * pages, mapped twice in a row so a record that wraps around the end is still contiguous.
 * Each record starts with an 8-byte header {len, pg_off}; len carries BUSY while the
 * record is reserved and DISCARD once discarded; records are 8-byte aligned.
 *
 * The pages are a memfd's, mapped shared, so the view user space gets from mmap
 * (bpf_map_mmap, made from our mapping with mremap) is the same memory: page 0 writable, the
 * rest read-only, the data pages twice. No fd stays open: a process sees the fd numbers the
 * kernel would give it. Producers are serialised by a lock; the consumer needs none.
 * Wake-ups go to an eventfd, created when the syscall layer first asks for it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map.h"

#define RINGBUF_CREATE_FLAG_MASK (BPF_F_NUMA_NODE)

/* The kernel's pages before the consumer page (struct bpf_ringbuf's header): pg_off counts them. */
#define RINGBUF_PGOFF 1
/* consumer page and producer page */
#define RINGBUF_POS_PAGES 2

#define RINGBUF_MAX_RECORD_SZ (UINT_MAX / 4)

struct bpf_ringbuf {
	/* Serialises producers: protects the producer_pos store and pending_pos. */
	struct map_lock spinlock;
	uint64_t mask; /* data size - 1 */
	/* The oldest record not yet committed: producers must not lap it. */
	uint64_t pending_pos;
	_Atomic int wakeup_fd; /* -1 until bpf_ringbuf_wakeup_fd() creates it */
	/* Our view: consumer page, producer page, data, data again (area_size bytes). */
	char *area;
	int memfd; /* the file of the first three (bpf_map_keep_memfd), or -1 */
	size_t area_size;
	_Atomic uint64_t *consumer_pos;
	_Atomic uint64_t *producer_pos;
	char *data;
};

struct bpf_ringbuf_map {
	struct bpf_map map;
	struct bpf_ringbuf *rb;
};

/* 8-byte ring buffer record header structure */
struct bpf_ringbuf_hdr {
	_Atomic uint32_t len;
	uint32_t pg_off;
};

static struct bpf_ringbuf *to_rb(const struct bpf_map *map)
{
	return ((const struct bpf_ringbuf_map *)map)->rb;
}

static uint64_t ringbuf_data_sz(const struct bpf_ringbuf *rb)
{
	return rb->mask + 1;
}

/* The view's pages [0, first_copy_end) are file pages; the data's second copy follows. */
static uint64_t ringbuf_first_copy_end(const struct bpf_ringbuf *rb)
{
	return RINGBUF_POS_PAGES + ringbuf_data_sz(rb) / BPF_MAP_PAGE_SIZE;
}

/* Reserves address space for a view of `len` bytes (or takes the caller's with MAP_FIXED). */
static void *ringbuf_reserve_area(void *addr, size_t len, int flags)
{
	void *p = mmap(addr, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Our view: the file's pages, then its data pages again right after them. */
static int ringbuf_map_area(struct bpf_ringbuf *rb, int memfd)
{
	uint64_t first = ringbuf_first_copy_end(rb) * BPF_MAP_PAGE_SIZE;
	const int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED | MAP_FIXED;

	if (mmap(rb->area, first, prot, flags, memfd, 0) == MAP_FAILED)
		return -ENOMEM;
	if (mmap(rb->area + first, ringbuf_data_sz(rb), prot, flags, memfd,
		 RINGBUF_POS_PAGES * BPF_MAP_PAGE_SIZE) == MAP_FAILED)
		return -ENOMEM;
	return 0;
}

static struct bpf_ringbuf *bpf_ringbuf_alloc(size_t data_sz)
{
	size_t file_size = RINGBUF_POS_PAGES * BPF_MAP_PAGE_SIZE + data_sz;
	struct bpf_ringbuf *rb;
	int memfd;

	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return NULL;
	map_lock_init(&rb->spinlock);
	rb->mask = data_sz - 1;
	rb->area_size = file_size + data_sz;
	atomic_init(&rb->wakeup_fd, -1);

	memfd = memfd_create("bpf-ringbuf", MFD_CLOEXEC);
	if (memfd < 0)
		goto err_free_rb;
	if (ftruncate(memfd, (off_t)file_size))
		goto err_close_memfd;
	rb->area = ringbuf_reserve_area(NULL, rb->area_size, 0);
	if (!rb->area)
		goto err_close_memfd;
	if (ringbuf_map_area(rb, memfd))
		goto err_unmap_area;
	/* The mappings keep the pages; the file is for views in other processes. */
	rb->memfd = bpf_map_keep_memfd(memfd);

	rb->consumer_pos = (_Atomic uint64_t *)rb->area;
	rb->producer_pos = (_Atomic uint64_t *)(rb->area + BPF_MAP_PAGE_SIZE);
	rb->data = rb->area + RINGBUF_POS_PAGES * BPF_MAP_PAGE_SIZE;
	return rb;

err_unmap_area:
	munmap(rb->area, rb->area_size);
err_close_memfd:
	close(memfd);
err_free_rb:
	free(rb);
	return NULL;
}

static void bpf_ringbuf_free(struct bpf_ringbuf *rb)
{
	int wakeup_fd = atomic_load(&rb->wakeup_fd);

	munmap(rb->area, rb->area_size);
	if (wakeup_fd >= 0)
		close(wakeup_fd);
	if (rb->memfd >= 0)
		close(rb->memfd);
	free(rb);
}

static bool is_power_of_2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static int ringbuf_map_alloc(union bpf_attr *attr, const struct bpf_map_env *env,
			     struct bpf_map **mapp)
{
	struct bpf_ringbuf_map *rb_map;

	if (attr->map_flags & ~RINGBUF_CREATE_FLAG_MASK)
		return -EINVAL;
	if (attr->key_size || attr->value_size || !is_power_of_2(attr->max_entries) ||
	    attr->max_entries % BPF_MAP_PAGE_SIZE)
		return -EINVAL;
	/* max_entries is 32 bits: with 4 KiB pages it never reaches RINGBUF_MAX_DATA_SZ (-E2BIG).
	 */

	rb_map = calloc(1, sizeof(*rb_map));
	if (!rb_map)
		return -ENOMEM;
	bpf_map_init_from_attr(&rb_map->map, attr, env);
	rb_map->rb = bpf_ringbuf_alloc(attr->max_entries);
	if (!rb_map->rb) {
		free(rb_map);
		return -ENOMEM;
	}
	*mapp = &rb_map->map;
	return 0;
}

static void ringbuf_map_free(struct bpf_map *map)
{
	bpf_ringbuf_free(to_rb(map));
	free(map);
}

/* sizeof(struct bpf_ringbuf_map) in the kernel we measured (6.18, x86-64). */
#define KERNEL_RINGBUF_MAP_SIZE 304u

/*
 * The kernel's ringbuf_map_mem_usage, to the byte (fdinfo "memlock", measured on 6.18):
 * the meta and data pages, and a page pointer for each page of the double mapping.
 */
static uint64_t ringbuf_map_mem_usage(const struct bpf_map *map)
{
	uint64_t nr_data_pages = ringbuf_data_sz(to_rb(map)) / BPF_MAP_PAGE_SIZE;
	uint64_t nr_meta_pages = RINGBUF_PGOFF + RINGBUF_POS_PAGES;

	return KERNEL_RINGBUF_MAP_SIZE + (nr_meta_pages + nr_data_pages) * BPF_MAP_PAGE_SIZE +
	       (nr_meta_pages + 2 * nr_data_pages) * sizeof(void *);
}

/* Rings have no elements: every element command is -ENOTSUPP. */
static void *ringbuf_map_lookup_elem(struct bpf_map *map, const void *key)
{
	(void)map, (void)key;
	return NULL;
}

static int ringbuf_map_copy_value(struct bpf_map *map, const void *key, void *value, uint64_t flags)
{
	(void)map, (void)key, (void)value, (void)flags;
	return -ENOTSUPP;
}

static long ringbuf_map_update_elem(struct bpf_map *map, const void *key, const void *value,
				    uint64_t flags)
{
	(void)map, (void)key, (void)value, (void)flags;
	return -ENOTSUPP;
}

static long ringbuf_map_delete_elem(struct bpf_map *map, const void *key)
{
	(void)map, (void)key;
	return -ENOTSUPP;
}

static int ringbuf_map_get_next_key(struct bpf_map *map, const void *key, void *next_key)
{
	(void)map, (void)key, (void)next_key;
	return -ENOTSUPP;
}

static int ringbuf_map_mmap_segs(struct bpf_map *map, size_t len, int prot, uint64_t pgoff,
				 struct nsbpf_mmap_seg segs[BPF_MAP_MMAP_MAX_SEGS])
{
	struct bpf_ringbuf *rb = to_rb(map);
	uint64_t nr = BPF_MAP_ROUND_UP((uint64_t)len, BPF_MAP_PAGE_SIZE) / BPF_MAP_PAGE_SIZE;
	uint64_t first_end = ringbuf_first_copy_end(rb), end = pgoff + nr, n;
	int nr_segs = 0;

	/* Only the consumer position is writable from user space. */
	if ((prot & PROT_WRITE) && (pgoff != 0 || len != BPF_MAP_PAGE_SIZE))
		return -EPERM;
	/* remap_vmalloc_range(): the view must lie within the two copies. */
	if (len == 0 || end > rb->area_size / BPF_MAP_PAGE_SIZE)
		return -EINVAL;
	/* The file's pages as they are, then the data's second copy: its pages again. */
	if (pgoff < first_end) {
		n = (end < first_end ? end : first_end) - pgoff;
		segs[nr_segs].file_off = pgoff * BPF_MAP_PAGE_SIZE;
		segs[nr_segs++].len = n * BPF_MAP_PAGE_SIZE;
		pgoff += n;
	}
	if (pgoff < end) {
		segs[nr_segs].file_off = (pgoff - first_end + RINGBUF_POS_PAGES) * BPF_MAP_PAGE_SIZE;
		segs[nr_segs++].len = (end - pgoff) * BPF_MAP_PAGE_SIZE;
	}
	return nr_segs;
}

static char *ringbuf_map_mmap_file(const struct bpf_map *map, int *memfd)
{
	struct bpf_ringbuf *rb = to_rb(map);

	if (memfd)
		*memfd = rb->memfd;
	return rb->area;
}

const struct bpf_map_ops ringbuf_map_ops = {
	.map_alloc = ringbuf_map_alloc,
	.map_free = ringbuf_map_free,
	.map_meta_equal = bpf_map_meta_equal,
	.map_mem_usage = ringbuf_map_mem_usage,
	.map_lookup_elem = ringbuf_map_lookup_elem,
	.map_update_elem = ringbuf_map_update_elem,
	.map_delete_elem = ringbuf_map_delete_elem,
	.map_get_next_key = ringbuf_map_get_next_key,
	.map_copy_value = ringbuf_map_copy_value,
	.map_mmap_segs = ringbuf_map_mmap_segs,
	.map_mmap_file = ringbuf_map_mmap_file,
};

/* ---- Producers (helpers) ------------------------------------------------------------ */

static uint64_t ringbuf_avail_data_sz(struct bpf_ringbuf *rb)
{
	uint64_t cons_pos = atomic_load_explicit(rb->consumer_pos, memory_order_acquire);
	uint64_t prod_pos = atomic_load_explicit(rb->producer_pos, memory_order_acquire);

	return prod_pos - cons_pos;
}

static void bpf_ringbuf_notify(struct bpf_ringbuf *rb)
{
	int fd = atomic_load_explicit(&rb->wakeup_fd, memory_order_acquire);
	uint64_t one = 1;

	/* Nobody polls before the eventfd exists; a full counter (EAGAIN) still polls readable. */
	if (fd < 0 || write(fd, &one, sizeof(one)) < 0)
		return;
}

static void *__bpf_ringbuf_reserve(struct bpf_ringbuf *rb, uint64_t size)
{
	uint64_t cons_pos, prod_pos, new_prod_pos, pend_pos, len;
	struct bpf_ringbuf_hdr *hdr;
	uint32_t hdr_len;

	if (size > RINGBUF_MAX_RECORD_SZ)
		return NULL;
	len = BPF_MAP_ROUND_UP(size + BPF_RINGBUF_HDR_SZ, 8);
	if (len > ringbuf_data_sz(rb))
		return NULL;

	cons_pos = atomic_load_explicit(rb->consumer_pos, memory_order_acquire);

	map_lock(&rb->spinlock);
	pend_pos = rb->pending_pos;
	prod_pos = atomic_load_explicit(rb->producer_pos, memory_order_relaxed);
	new_prod_pos = prod_pos + len;
	/* Skip the records committed since: the oldest busy one bounds how far we may go. */
	while (pend_pos < prod_pos) {
		hdr = (void *)(rb->data + (pend_pos & rb->mask));
		hdr_len = atomic_load_explicit(&hdr->len, memory_order_acquire);
		if (hdr_len & BPF_RINGBUF_BUSY_BIT)
			break;
		pend_pos += BPF_MAP_ROUND_UP(
			(hdr_len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ, 8);
	}
	rb->pending_pos = pend_pos;

	/*
	 * Out of space when the producer would get a whole ring ahead of the consumer, or of
	 * the oldest record still being written.
	 */
	if (new_prod_pos - cons_pos > rb->mask || new_prod_pos - pend_pos > rb->mask) {
		map_unlock(&rb->spinlock);
		return NULL;
	}

	hdr = (void *)(rb->data + (prod_pos & rb->mask));
	hdr->pg_off = (uint32_t)(RINGBUF_PGOFF + RINGBUF_POS_PAGES +
				 ((prod_pos & rb->mask) / BPF_MAP_PAGE_SIZE));
	atomic_store_explicit(&hdr->len, (uint32_t)size | BPF_RINGBUF_BUSY_BIT,
			      memory_order_relaxed);
	/* pairs with the consumer's acquire load */
	atomic_store_explicit(rb->producer_pos, new_prod_pos, memory_order_release);
	map_unlock(&rb->spinlock);

	return (char *)hdr + BPF_RINGBUF_HDR_SZ;
}

void *bpf_ringbuf_reserve(struct bpf_map *map, uint64_t size, uint64_t flags)
{
	if (flags)
		return NULL;
	return __bpf_ringbuf_reserve(to_rb(map), size);
}

/* The header of a reserved record of rb, or NULL: there is no verifier to prove it. */
static struct bpf_ringbuf_hdr *ringbuf_busy_hdr(struct bpf_ringbuf *rb, void *sample)
{
	char *p = (char *)sample - BPF_RINGBUF_HDR_SZ;
	struct bpf_ringbuf_hdr *hdr;

	if (p < rb->data || p >= rb->data + ringbuf_data_sz(rb) || (p - rb->data) % 8)
		return NULL;
	hdr = (void *)p;
	if (!(atomic_load_explicit(&hdr->len, memory_order_relaxed) & BPF_RINGBUF_BUSY_BIT))
		return NULL;
	return hdr;
}

static int bpf_ringbuf_commit(struct bpf_ringbuf *rb, void *sample, uint64_t flags, bool discard)
{
	struct bpf_ringbuf_hdr *hdr = ringbuf_busy_hdr(rb, sample);
	uint64_t rec_pos, cons_pos;
	uint32_t new_len;

	if (!hdr)
		return -EINVAL;
	new_len = atomic_load_explicit(&hdr->len, memory_order_relaxed) ^ BPF_RINGBUF_BUSY_BIT;
	if (discard)
		new_len |= BPF_RINGBUF_DISCARD_BIT;
	/* update record header with correct final size prefix */
	atomic_exchange_explicit(&hdr->len, new_len, memory_order_acq_rel);

	/* if the consumer caught up and is waiting for our record, notify it */
	rec_pos = (uint64_t)((char *)hdr - rb->data);
	cons_pos = atomic_load_explicit(rb->consumer_pos, memory_order_acquire) & rb->mask;
	if (flags & BPF_RB_FORCE_WAKEUP)
		bpf_ringbuf_notify(rb);
	else if (cons_pos == rec_pos && !(flags & BPF_RB_NO_WAKEUP))
		bpf_ringbuf_notify(rb);
	return 0;
}

int bpf_ringbuf_submit(struct bpf_map *map, void *sample, uint64_t flags)
{
	return bpf_ringbuf_commit(to_rb(map), sample, flags, false);
}

int bpf_ringbuf_discard(struct bpf_map *map, void *sample, uint64_t flags)
{
	return bpf_ringbuf_commit(to_rb(map), sample, flags, true);
}

long bpf_ringbuf_output(struct bpf_map *map, const void *data, uint64_t size, uint64_t flags)
{
	struct bpf_ringbuf *rb = to_rb(map);
	void *rec;

	if (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))
		return -EINVAL;
	rec = __bpf_ringbuf_reserve(rb, size);
	if (!rec)
		return -EAGAIN;
	memcpy(rec, data, size);
	return bpf_ringbuf_commit(rb, rec, flags, false);
}

uint64_t bpf_ringbuf_query(struct bpf_map *map, uint64_t flags)
{
	struct bpf_ringbuf *rb = to_rb(map);

	switch (flags) {
	case BPF_RB_AVAIL_DATA:
		return ringbuf_avail_data_sz(rb);
	case BPF_RB_RING_SIZE:
		return ringbuf_data_sz(rb);
	case BPF_RB_CONS_POS:
		return atomic_load_explicit(rb->consumer_pos, memory_order_acquire);
	case BPF_RB_PROD_POS:
		return atomic_load_explicit(rb->producer_pos, memory_order_acquire);
	default:
		return 0;
	}
}

int bpf_ringbuf_wakeup_fd(struct bpf_map *map)
{
	struct bpf_ringbuf *rb = to_rb(map);
	int fd = atomic_load_explicit(&rb->wakeup_fd, memory_order_acquire), expected = -1;

	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* Two first callers: one eventfd wins, the other goes. */
	if (!atomic_compare_exchange_strong(&rb->wakeup_fd, &expected, fd)) {
		close(fd);
		fd = expected;
	}
	return fd;
}

bool bpf_ringbuf_has_data(struct bpf_map *map)
{
	return ringbuf_avail_data_sz(to_rb(map)) != 0;
}
