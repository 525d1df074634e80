// SPDX-License-Identifier: MIT
/*
 * fd.c - the fds of a runtime: which fd number is which struct bpf_file, and what each kind
 * of file does when its last fd goes, shows in /proc/self/fdinfo and in readlink.
 *
 * Every fd is a real fd of the process, made by dup'ing one anchor file the runtime holds,
 * so close(), dup(), fork() and poll-free uses behave; identity lives in this table, as the
 * kernel gives every bpf fd the same anonymous inode. The anchor is an eventfd: measured
 * here, dup + close of a held fd costs about 0.4 us where a fresh eventfd costs 2 us and a
 * socketpair 10 us; and an eventfd is itself an anon_inode file, so fstat() of our fds shows
 * the very inode (and fdinfo the mnt_id) of the kernel's bpf fds. Its fdinfo is read once to
 * learn those two numbers.
 *
 * A file is shared by an fd and its dups and holds one reference on its object; commands
 * hold the file while they use its object. The last reference releases the object
 * synchronously (bpf_file_ops.put), as the kernel's last fput of a bpf file does.
 *
 * Files can also outlive this process's fd table: a shared file (nsbpf_fd_share_all(), and
 * every file installed for a caller in another process) is one end of a socketpair that any
 * number of processes hold copies of, found again by the inode of that socket; the runtime
 * keeps the other end (the peer) in an epoll set, and the peer's hang-up, which the kernel
 * signals when the last copy anywhere is closed, is the file's last close. A socketpair costs
 * ~25 times a dup, which is why a process's own fds stay dups until they must be shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf.h"
#include "link.h"

/*
 * A shared file: the socket processes hold (known by its inode) and our end of it. Holds a
 * reference on the file; found by inode through the table's hash.
 */
struct bpf_shared {
	struct bpf_shared *next; /* hash chain */
	unsigned long ino;	 /* inode of the end the processes hold */
	int peer;		 /* our end: hangs up when theirs is closed everywhere */
	int tmp_end;		 /* their end during nsbpf_fd_share_all(), else -1 */
	struct bpf_file *file;
};

#define BPF_SHARED_BUCKETS 1024u

/* One slot per fd number: the file, and the fd's own FD_CLOEXEC. */
struct bpf_fd_slot {
	struct bpf_file *file; /* holds a reference; NULL: not ours */
	bool cloexec;
};

struct bpf_fdtable {
	/*
	 * Protects slots and nr_slots. A read-write lock: lookups (every command) share it,
	 * install, close and dup take it alone.
	 */
	pthread_rwlock_t lock;
	struct bpf_fd_slot *slots; /* indexed by fd number */
	unsigned int nr_slots;
	int anchor;		   /* the eventfd every fd is a dup of */
	int anchor_mnt_id;	   /* what fdinfo `mnt_id:` shows for anon inodes */
	unsigned long anchor_ino;  /* and `ino:` */
	int nsfs_mnt_id;	   /* `mnt_id:` of /proc/self/ns/net files */
	/* Shared files, under lock too: hashed by inode; peers in an epoll set. */
	struct bpf_shared **shared;
	size_t nr_shared;
	int shared_epoll; /* -1 until the first shared file */
};

/* What bpf_fd_reserve() gives for a caller elsewhere: its fd number comes at install. */
#define BPF_FD_RESERVED_REMOTE INT_MAX

/* A growing text buffer: printf appends, keeps counting past the end (snprintf's rule). */
struct seq_buf {
	char *buf;
	size_t size;
	size_t len;
};

static void seq_printf(struct seq_buf *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void seq_printf(struct seq_buf *s, const char *fmt, ...)
{
	size_t room = s->len < s->size ? s->size - s->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->len += (size_t)n;
}

/* Appends what a (buf, size) -> length function of another file writes. */
static void seq_append(struct seq_buf *s, int n)
{
	if (n > 0)
		s->len += (size_t)n;
}

static char *seq_tail(struct seq_buf *s, size_t *room)
{
	*room = s->len < s->size ? s->size - s->len : 0;
	return *room ? s->buf + s->len : NULL;
}

/* ---- What each kind of file does -------------------------------------------------- */

/*
 * The operations of one kind of file, as the kernel's file_operations of bpf-prog,
 * bpf-map, bpf_link, btf and bpf-stats files: drop the file's reference on the object,
 * and the object's own fdinfo lines.
 */
struct bpf_file_ops {
	const char *anon_name; /* readlink: anon_inode:<name>; NULL: not an anon inode */
	void (*put)(void *obj);
	void (*show_fdinfo)(struct bpf_file *file, struct seq_buf *s);
	/* Files that are not anon inodes: the readlink text and the `ino:` line. */
	int (*readlink)(struct bpf_file *file, char *buf, size_t size);
	unsigned long (*ino)(struct bpf_file *file);
	bool nsfs; /* mnt_id of nsfs, not of the anon inode mount */
};

static void prog_file_put(void *obj)
{
	bpf_prog_put(obj);
}

static void prog_show_fdinfo(struct bpf_file *file, struct seq_buf *s)
{
	size_t room;
	char *p = seq_tail(s, &room);

	seq_append(s, bpf_prog_show_fdinfo(file->obj, p, room));
}

static void map_file_put(void *obj)
{
	bpf_map_put_with_uref(obj);
}

/* bpf_map_show_fdinfo of the kernel (6.18 text, measured). */
static void map_show_fdinfo(struct bpf_file *file, struct seq_buf *s)
{
	struct bpf_map *map = file->obj;
	uint32_t owner_prog_type = 0;

	seq_printf(s,
		   "map_type:\t%u\nkey_size:\t%u\nvalue_size:\t%u\nmax_entries:\t%u\n"
		   "map_flags:\t0x%x\nmap_extra:\t0x%" PRIx64 "\nmemlock:\t%" PRIu64 "\n"
		   "map_id:\t%u\nfrozen:\t%u\n",
		   map->map_type, map->key_size, map->value_size, map->max_entries,
		   map->map_flags, map->map_extra, bpf_map_mem_usage(map), map->id,
		   (unsigned int)atomic_load(&map->frozen));

	map_lock(&map->owner_lock);
	if (map->owner_set)
		owner_prog_type = map->owner_prog_type;
	map_unlock(&map->owner_lock);
	/* Programs are not jited here (the interpreter runs them): owner_jited is 0. */
	if (owner_prog_type)
		seq_printf(s, "owner_prog_type:\t%u\nowner_jited:\t0\n", owner_prog_type);
}

static void link_file_put(void *obj)
{
	bpf_link_put(obj);
}

static void link_show_fdinfo(struct bpf_file *file, struct seq_buf *s)
{
	size_t room;
	char *p = seq_tail(s, &room);

	seq_append(s, bpf_link_show_fdinfo(file->obj, p, room));
}

static void btf_file_put(void *obj)
{
	bpf_btf_put(obj);
}

static void btf_show_fdinfo(struct bpf_file *file, struct seq_buf *s)
{
	seq_printf(s, "btf_id:\t%u\n", bpf_btf_id(file->obj));
}

/* While a stats fd is open, programs count their runs and run time (bpf_stats_enabled_key). */
static void stats_file_put(void *obj)
{
	struct bpf_state *st = obj;

	atomic_fetch_sub(&st->stats_enabled, 1);
}

static void net_file_put(void *obj)
{
	nsbpf_net_put(obj);
}

static int net_readlink(struct bpf_file *file, char *buf, size_t size)
{
	return snprintf(buf, size, "net:[%u]", nsbpf_net_inum(file->obj));
}

static unsigned long net_ino(struct bpf_file *file)
{
	return nsbpf_net_inum(file->obj);
}

static void cgroup_file_put(void *obj)
{
	nsbpf_cgroup_put(obj);
}

/* A cgroup directory's inode number is its cgroup id (kernfs ids on 64-bit). */
static unsigned long cgroup_ino(struct bpf_file *file)
{
	return nsbpf_cgroup_id(file->obj);
}

static const struct bpf_file_ops bpf_file_ops[] = {
	[BPF_FILE_PROG] = { .anon_name = "bpf-prog", .put = prog_file_put,
			    .show_fdinfo = prog_show_fdinfo },
	[BPF_FILE_MAP] = { .anon_name = "bpf-map", .put = map_file_put,
			   .show_fdinfo = map_show_fdinfo },
	[BPF_FILE_LINK] = { .anon_name = "bpf_link", .put = link_file_put,
			    .show_fdinfo = link_show_fdinfo },
	[BPF_FILE_BTF] = { .anon_name = "btf", .put = btf_file_put,
			   .show_fdinfo = btf_show_fdinfo },
	[BPF_FILE_STATS] = { .anon_name = "bpf-stats", .put = stats_file_put },
	[BPF_FILE_NET] = { .put = net_file_put, .readlink = net_readlink, .ino = net_ino,
			   .nsfs = true },
	/* The directory's path is the opener's (the shim) to tell: no readlink here. */
	[BPF_FILE_CGROUP] = { .put = cgroup_file_put, .ino = cgroup_ino },
};

/* ---- Files -------------------------------------------------------------------------- */

struct bpf_file *bpf_file_new(enum bpf_file_kind kind, void *obj, uint32_t f_flags)
{
	struct bpf_file *file = calloc(1, sizeof(*file));

	if (!file)
		return NULL;
	atomic_init(&file->refcnt, 1);
	file->kind = kind;
	file->obj = obj;
	file->f_flags = f_flags;
	switch (f_flags & O_ACCMODE) {
	case O_RDONLY:
		file->fmode = BPF_MAP_FMODE_READ;
		break;
	case O_WRONLY:
		file->fmode = BPF_MAP_FMODE_WRITE;
		break;
	default:
		file->fmode = BPF_MAP_FMODE_READ | BPF_MAP_FMODE_WRITE;
		break;
	}
	file->anon_name = bpf_file_ops[kind].anon_name;
	return file;
}

void bpf_file_get(struct bpf_file *file)
{
	atomic_fetch_add(&file->refcnt, 1);
}

void bpf_file_put(struct bpf_file *file)
{
	if (!file || atomic_fetch_sub(&file->refcnt, 1) != 1)
		return;
	bpf_file_ops[file->kind].put(file->obj);
	free(file);
}

/* ---- The table ---------------------------------------------------------------------- */

/* The `mnt_id:` and `ino:` lines of an fd's fdinfo, read from the kernel's own text. */
static void fdinfo_read_ids(int fd, int *mnt_id, unsigned long *ino)
{
	char path[64], text[512];
	const char *p;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	n = read(f, text, sizeof(text) - 1);
	close(f);
	if (n <= 0)
		return;
	text[n] = '\0';
	p = strstr(text, "mnt_id:");
	if (p && mnt_id)
		*mnt_id = atoi(p + strlen("mnt_id:"));
	p = strstr(text, "ino:");
	if (p && ino)
		*ino = strtoul(p + strlen("ino:"), NULL, 10);
}

/*
 * Moves the anchor to a high fd number: a process expects the fds the kernel would give it
 * (the lowest free ones), and a low anchor would shift every fd we hand out by one.
 */
static int fdtable_anchor_move_high(int fd)
{
	struct rlimit rl;
	int high;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 128)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur > 1024 ? 1024 : rl.rlim_cur) - 64);
	if (high < 0)
		return fd;
	close(fd);
	return high;
}

int bpf_fdtable_new(struct bpf_fdtable **fdtp)
{
	struct bpf_fdtable *fdt = calloc(1, sizeof(*fdt));
	struct stat stbuf;
	int nsfd, err;

	if (!fdt)
		return -ENOMEM;
	fdt->shared_epoll = -1;
	fdt->anchor = eventfd(0, EFD_CLOEXEC);
	if (fdt->anchor < 0) {
		err = -errno;
		goto err_free_fdt;
	}
	fdt->anchor = fdtable_anchor_move_high(fdt->anchor);
	if (fstat(fdt->anchor, &stbuf) == 0)
		fdt->anchor_ino = stbuf.st_ino;
	fdinfo_read_ids(fdt->anchor, &fdt->anchor_mnt_id, &fdt->anchor_ino);
	/* The host's nsfs mount stands for the runtime's: namespaces have no mount of their own. */
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd >= 0) {
		fdinfo_read_ids(nsfd, &fdt->nsfs_mnt_id, NULL);
		close(nsfd);
	}
	pthread_rwlock_init(&fdt->lock, NULL);
	*fdtp = fdt;
	return 0;

err_free_fdt:
	free(fdt);
	return err;
}

/*
 * Closes every fd still in the table and drops its file: the runtime goes, and its fds with
 * it (they would name nothing).
 */
void bpf_fdtable_free(struct bpf_fdtable *fdt)
{
	unsigned int fd;

	if (!fdt)
		return;
	for (fd = 0; fd < fdt->nr_slots; fd++) {
		struct bpf_file *file = fdt->slots[fd].file;

		if (!file)
			continue;
		fdt->slots[fd].file = NULL;
		close((int)fd);
		bpf_file_put(file);
	}
	free(fdt->slots);
	if (fdt->shared) {
		for (fd = 0; fd < BPF_SHARED_BUCKETS; fd++) {
			struct bpf_shared *sh, *next;

			for (sh = fdt->shared[fd]; sh; sh = next) {
				next = sh->next;
				close(sh->peer);
				bpf_file_put(sh->file);
				free(sh);
			}
		}
		free(fdt->shared);
	}
	if (fdt->shared_epoll >= 0)
		close(fdt->shared_epoll);
	close(fdt->anchor);
	pthread_rwlock_destroy(&fdt->lock);
	free(fdt);
}

/* Makes room for slot @fd. Must be called with fdt->lock held for writing. */
static int fdtable_expand(struct bpf_fdtable *fdt, int fd)
{
	unsigned int nr = fdt->nr_slots ? fdt->nr_slots : 64;
	struct bpf_fd_slot *slots;

	if ((unsigned int)fd < fdt->nr_slots)
		return 0;
	while (nr <= (unsigned int)fd)
		nr *= 2;
	slots = realloc(fdt->slots, nr * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots + fdt->nr_slots, 0, (nr - fdt->nr_slots) * sizeof(*slots));
	fdt->slots = slots;
	fdt->nr_slots = nr;
	return 0;
}

/*
 * Puts @file (its reference passes to the table) at @fd; what was there before is handed
 * back for the caller to put outside the lock: an fd the process closed without telling us,
 * whose number the kernel has reused. Must be called with fdt->lock held for writing.
 */
static int fdtable_set(struct bpf_fdtable *fdt, int fd, struct bpf_file *file, bool cloexec,
		       struct bpf_file **old)
{
	int err = fdtable_expand(fdt, fd);

	if (err)
		return err;
	*old = fdt->slots[fd].file;
	fdt->slots[fd].file = file;
	fdt->slots[fd].cloexec = cloexec;
	return 0;
}

/* Takes @fd out of the table; its file (or NULL) goes to the caller. Lock held for writing. */
static struct bpf_file *fdtable_clear(struct bpf_fdtable *fdt, int fd)
{
	struct bpf_file *file;

	if (fd < 0 || (unsigned int)fd >= fdt->nr_slots)
		return NULL;
	file = fdt->slots[fd].file;
	fdt->slots[fd].file = NULL;
	return file;
}

/* ---- Shared files ------------------------------------------------------------------- */

static unsigned int shared_bucket(unsigned long ino)
{
	return (unsigned int)(ino * 0x9E3779B97F4A7C15ull >> 54) & (BPF_SHARED_BUCKETS - 1);
}

/*
 * Makes @file shared: a socketpair whose end the processes hold comes back in *end (the
 * caller closes it once it has handed it on); the new entry holds a new reference on @file.
 * Must be called with fdt->lock held for writing.
 */
static int shared_new(struct bpf_fdtable *fdt, struct bpf_file *file, int *end,
		      struct bpf_shared **shp)
{
	struct epoll_event ev = { .events = EPOLLRDHUP };
	struct bpf_shared *sh;
	struct stat stbuf;
	int sv[2], err;

	if (!fdt->shared) {
		fdt->shared = calloc(BPF_SHARED_BUCKETS, sizeof(*fdt->shared));
		if (!fdt->shared)
			return -ENOMEM;
	}
	if (fdt->shared_epoll < 0) {
		fdt->shared_epoll = epoll_create1(EPOLL_CLOEXEC);
		if (fdt->shared_epoll < 0)
			return -errno;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		err = -errno;
		goto err_free;
	}
	if (fstat(sv[0], &stbuf)) {
		err = -errno;
		goto err_close;
	}
	sh->ino = stbuf.st_ino;
	sh->peer = sv[1];
	sh->tmp_end = -1;
	sh->file = file;
	ev.data.ptr = sh;
	/* Hang-ups are always reported: the peer is watched for nothing else. */
	if (epoll_ctl(fdt->shared_epoll, EPOLL_CTL_ADD, sh->peer, &ev)) {
		err = -errno;
		goto err_close;
	}
	bpf_file_get(file);
	sh->next = fdt->shared[shared_bucket(sh->ino)];
	fdt->shared[shared_bucket(sh->ino)] = sh;
	fdt->nr_shared++;
	*end = sv[0];
	if (shp)
		*shp = sh;
	return 0;

err_close:
	close(sv[0]);
	close(sv[1]);
err_free:
	free(sh);
	return err;
}

/* Takes @sh out of the table; the caller puts its file. Lock held for writing. */
static void shared_unlink(struct bpf_fdtable *fdt, struct bpf_shared *sh)
{
	struct bpf_shared **pp = &fdt->shared[shared_bucket(sh->ino)];

	while (*pp != sh)
		pp = &(*pp)->next;
	*pp = sh->next;
	fdt->nr_shared--;
	epoll_ctl(fdt->shared_epoll, EPOLL_CTL_DEL, sh->peer, NULL);
	close(sh->peer);
}

/* The shared file @fd (an fd of this process) is an end of, with a reference; or NULL. */
static struct bpf_file *shared_lookup(struct bpf_fdtable *fdt, int fd)
{
	struct bpf_file *file = NULL;
	struct bpf_shared *sh;
	struct stat stbuf;

	if (fstat(fd, &stbuf) || !S_ISSOCK(stbuf.st_mode))
		return NULL;
	pthread_rwlock_rdlock(&fdt->lock);
	if (fdt->shared) {
		for (sh = fdt->shared[shared_bucket(stbuf.st_ino)]; sh; sh = sh->next) {
			if (sh->ino == stbuf.st_ino) {
				file = sh->file;
				bpf_file_get(file);
				break;
			}
		}
	}
	pthread_rwlock_unlock(&fdt->lock);
	return file;
}

/* Installs @file (the caller's reference) for a caller in another process. */
static int shared_install(struct bpf_fdtable *fdt, struct bpf_file *file, bool cloexec)
{
	const struct nsbpf_caller *caller = bpf_caller;
	int end, fd;

	pthread_rwlock_wrlock(&fdt->lock);
	fd = shared_new(fdt, file, &end, NULL);
	pthread_rwlock_unlock(&fdt->lock);
	bpf_file_put(file); /* the entry holds its own */
	if (fd)
		return fd;
	fd = caller->ops->put_fd(caller->ctx, end, cloexec);
	close(end);
	/* Never handed over (or lost on the way): the peer hangs up, the next reap frees it. */
	return fd;
}

/* The file behind the caller's @fd with a reference, and the fd's cloexec; NULL if none. */
static struct bpf_file *remote_get(struct bpf_fdtable *fdt, int fd, bool *cloexec)
{
	const struct nsbpf_caller *caller = bpf_caller;
	struct bpf_file *file;
	int local;

	if (fd < 0)
		return NULL;
	local = caller->ops->get_fd(caller->ctx, fd, cloexec);
	if (local < 0)
		return NULL;
	file = shared_lookup(fdt, local);
	close(local);
	return file;
}

int nsbpf_fd_share_all(struct nsbpf_runtime *rt, int **peersp, size_t *nrp)
{
	struct bpf_state *st = bpf_state_peek(rt);
	struct bpf_fdtable *fdt = st ? st->fdt : NULL;
	struct bpf_shared **made = NULL;
	size_t nr = 0, i;
	unsigned int fd;
	int *peers, err = 0;

	*peersp = NULL;
	*nrp = 0;
	if (!fdt)
		return 0;
	pthread_rwlock_wrlock(&fdt->lock);
	made = calloc(fdt->nr_slots + 1, sizeof(*made));
	if (!made) {
		err = -ENOMEM;
		goto out_unlock;
	}
	/* One socket per file, put at every fd number of that file (dups share it). */
	for (fd = 0; fd < fdt->nr_slots; fd++) {
		struct bpf_file *file = fdt->slots[fd].file;
		struct bpf_shared *sh = NULL;
		int end;

		if (!file)
			continue;
		for (i = 0; i < nr && made[i]->file != file; i++)
			;
		if (i < nr) {
			sh = made[i];
		} else {
			err = shared_new(fdt, file, &end, &sh);
			if (err)
				break;
			sh->tmp_end = end;
			made[nr++] = sh;
		}
		if (dup3(sh->tmp_end, (int)fd, fdt->slots[fd].cloexec ? O_CLOEXEC : 0) < 0) {
			err = -errno;
			break;
		}
	}
	peers = err ? NULL : malloc((nr ? nr : 1) * sizeof(*peers));
	if (!err && !peers)
		err = -ENOMEM;
	for (i = 0; i < nr; i++) {
		close(made[i]->tmp_end);
		made[i]->tmp_end = -1;
		if (peers)
			peers[i] = made[i]->peer;
	}
	if (err)
		goto out_unlock;
	/*
	 * The slots stay: the fd numbers still name the files here (a process that cannot hand
	 * its runtime over goes on with it); a host forgets them (nsbpf_fd_forget()).
	 */
	*peersp = peers;
	*nrp = nr;
out_unlock:
	pthread_rwlock_unlock(&fdt->lock);
	free(made);
	return err;
}

int bpf_fd_install(struct bpf_state *st, struct bpf_file *file, bool cloexec)
{
	struct bpf_fdtable *fdt = st->fdt;
	int fd;

	if (bpf_caller_fds())
		return shared_install(fdt, file, cloexec);
	fd = fcntl(fdt->anchor, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd < 0) {
		fd = -errno;
		bpf_file_put(file);
		return fd;
	}
	return bpf_fd_install_at(st, fd, file, cloexec);
}

int bpf_fd_reserve(struct bpf_state *st)
{
	int fd;

	/* A caller elsewhere gets its number when the file is handed over. */
	if (bpf_caller_fds())
		return BPF_FD_RESERVED_REMOTE;
	fd = fcntl(st->fdt->anchor, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

void bpf_fd_unreserve(struct bpf_state *st, int fd)
{
	(void)st;
	if (fd != BPF_FD_RESERVED_REMOTE)
		close(fd);
}

int bpf_fd_install_at(struct bpf_state *st, int fd, struct bpf_file *file, bool cloexec)
{
	struct bpf_fdtable *fdt = st->fdt;
	struct bpf_file *old = NULL;
	int err;

	if (fd == BPF_FD_RESERVED_REMOTE)
		return shared_install(fdt, file, cloexec);
	pthread_rwlock_wrlock(&fdt->lock);
	err = fdtable_set(fdt, fd, file, cloexec, &old);
	pthread_rwlock_unlock(&fdt->lock);
	if (err) {
		close(fd);
		bpf_file_put(file);
		return err;
	}
	bpf_file_put(old);
	return fd;
}

/* The file at @fd of the process the thread acts for, with a reference, and the fd's cloexec. */
static struct bpf_file *fdtable_get(struct bpf_fdtable *fdt, int fd, bool *cloexec)
{
	struct bpf_file *file = NULL;

	if (fd < 0)
		return NULL;
	if (bpf_caller_fds())
		return remote_get(fdt, fd, cloexec);
	pthread_rwlock_rdlock(&fdt->lock);
	if ((unsigned int)fd < fdt->nr_slots && fdt->slots[fd].file) {
		file = fdt->slots[fd].file;
		*cloexec = fdt->slots[fd].cloexec;
		bpf_file_get(file);
	}
	pthread_rwlock_unlock(&fdt->lock);
	return file;
}

struct bpf_file *bpf_fd_get(struct bpf_state *st, int fd)
{
	bool cloexec;

	return fdtable_get(st->fdt, fd, &cloexec);
}

int bpf_fd_not_ours(struct bpf_state *st, int fd)
{
	const struct nsbpf_caller *caller = bpf_caller;
	bool cloexec;
	int local;

	(void)st;
	if (fd < 0)
		return -EBADF;
	if (!bpf_caller_fds())
		return fcntl(fd, F_GETFD) >= 0 ? -EINVAL : -EBADF;
	local = caller->ops->get_fd(caller->ctx, fd, &cloexec);
	if (local < 0)
		return -EBADF;
	close(local);
	return -EINVAL;
}

int nsbpf_fd_shared_wait_fd(struct nsbpf_runtime *rt)
{
	struct bpf_state *st = bpf_state_peek(rt);

	return st && st->fdt->shared_epoll >= 0 ? st->fdt->shared_epoll : -ENOENT;
}

long nsbpf_fd_shared_reap(struct nsbpf_runtime *rt)
{
	struct bpf_state *st = bpf_state_peek(rt);
	struct bpf_fdtable *fdt = st ? st->fdt : NULL;
	struct epoll_event evs[64];
	long left;
	int n, i;

	if (!fdt || fdt->shared_epoll < 0)
		return 0;
	do {
		n = epoll_wait(fdt->shared_epoll, evs, (int)ARRAY_SIZE(evs), 0);
		for (i = 0; i < n; i++) {
			struct bpf_shared *sh = evs[i].data.ptr;

			if (!(evs[i].events & EPOLLHUP))
				continue;
			pthread_rwlock_wrlock(&fdt->lock);
			shared_unlink(fdt, sh);
			pthread_rwlock_unlock(&fdt->lock);
			/* the last close anywhere: the object goes now, as at the kernel's last fput */
			bpf_file_put(sh->file);
			free(sh);
		}
	} while (n == (int)ARRAY_SIZE(evs));
	pthread_rwlock_rdlock(&fdt->lock);
	left = (long)fdt->nr_shared;
	pthread_rwlock_unlock(&fdt->lock);
	return left;
}

bool nsbpf_fd_internal(struct nsbpf_runtime *rt, int fd)
{
	struct bpf_state *st = bpf_state_peek(rt);
	struct bpf_fdtable *fdt = st ? st->fdt : NULL;
	bool internal = false;
	unsigned int b;

	if (!fdt)
		return false;
	pthread_rwlock_rdlock(&fdt->lock);
	internal = fd == fdt->anchor || fd == fdt->shared_epoll;
	for (b = 0; !internal && fdt->shared && b < BPF_SHARED_BUCKETS; b++) {
		struct bpf_shared *sh;

		for (sh = fdt->shared[b]; sh && !internal; sh = sh->next)
			internal = sh->peer == fd;
	}
	pthread_rwlock_unlock(&fdt->lock);
	return internal;
}

/* ---- The public fd calls -------------------------------------------------------------- */

/* The table of @rt if it has one yet: fd calls never create the BPF state. */
static struct bpf_fdtable *fdtable_of(struct nsbpf_runtime *rt)
{
	struct bpf_state *st = bpf_state_peek(rt);

	return st ? st->fdt : NULL;
}

bool nsbpf_fd_owned(struct nsbpf_runtime *rt, int fd)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	bool owned = false;

	if (!fdt || fd < 0)
		return false;
	pthread_rwlock_rdlock(&fdt->lock);
	owned = (unsigned int)fd < fdt->nr_slots && fdt->slots[fd].file;
	pthread_rwlock_unlock(&fdt->lock);
	return owned;
}

int nsbpf_fd_close(struct nsbpf_runtime *rt, int fd)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	struct bpf_file *file;

	if (!fdt)
		return -EBADF;
	pthread_rwlock_wrlock(&fdt->lock);
	file = fdtable_clear(fdt, fd);
	pthread_rwlock_unlock(&fdt->lock);
	if (!file)
		return -EBADF;
	/*
	 * Closed after leaving the table: until close() returns the number cannot be handed
	 * out again, so no install can see a slot that is about to be closed.
	 */
	close(fd);
	bpf_file_put(file);
	return 0;
}

void nsbpf_fd_forget(struct nsbpf_runtime *rt, int fd)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	struct bpf_file *file;

	if (!fdt)
		return;
	pthread_rwlock_wrlock(&fdt->lock);
	file = fdtable_clear(fdt, fd);
	pthread_rwlock_unlock(&fdt->lock);
	bpf_file_put(file);
}

int nsbpf_fd_dup(struct nsbpf_runtime *rt, int oldfd, int newfd, bool cloexec)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	struct bpf_file *file, *old = NULL;
	int err;

	if (!fdt || newfd < 0)
		return -EBADF;
	pthread_rwlock_wrlock(&fdt->lock);
	if (oldfd < 0 || (unsigned int)oldfd >= fdt->nr_slots || !fdt->slots[oldfd].file) {
		err = -EBADF;
		goto out_unlock;
	}
	file = fdt->slots[oldfd].file;
	if (oldfd == newfd) {
		/* dup2(fd, fd): nothing changes (dup3 refuses it before reaching us). */
		err = 0;
		goto out_unlock;
	}
	bpf_file_get(file);
	err = fdtable_set(fdt, newfd, file, cloexec, &old);
	if (err)
		bpf_file_put(file); /* not the last: the old fd still holds it */
out_unlock:
	pthread_rwlock_unlock(&fdt->lock);
	bpf_file_put(old);
	return err;
}

int nsbpf_fd_set_cloexec(struct nsbpf_runtime *rt, int fd, bool cloexec)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	int err = -EBADF;

	if (!fdt || fd < 0)
		return -EBADF;
	pthread_rwlock_wrlock(&fdt->lock);
	if ((unsigned int)fd < fdt->nr_slots && fdt->slots[fd].file) {
		fdt->slots[fd].cloexec = cloexec;
		err = 0;
	}
	pthread_rwlock_unlock(&fdt->lock);
	return err;
}

/*
 * The generic lines are the VFS's seq_show (fs/proc/fd.c): the file's flags with O_CLOEXEC
 * from the fd, in octal with a leading 0.
 */
long nsbpf_fd_show_fdinfo(struct nsbpf_runtime *rt, int fd, char *buf, size_t size)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	struct seq_buf s = { .buf = buf, .size = size };
	const struct bpf_file_ops *ops;
	struct bpf_file *file;
	bool cloexec = false;
	uint32_t flags;

	file = fdt ? fdtable_get(fdt, fd, &cloexec) : NULL;
	if (!file)
		return -EBADF;
	ops = &bpf_file_ops[file->kind];
	flags = file->f_flags | (cloexec ? O_CLOEXEC : 0);
	seq_printf(&s, "pos:\t0\nflags:\t0%o\nmnt_id:\t%d\nino:\t%lu\n", flags,
		   ops->nsfs ? fdt->nsfs_mnt_id : fdt->anchor_mnt_id,
		   ops->ino ? ops->ino(file) : fdt->anchor_ino);
	if (ops->show_fdinfo)
		ops->show_fdinfo(file, &s);
	bpf_file_put(file);
	return (long)s.len;
}

/*
 * Writes min(length, @size) bytes without a NUL, as readlink(2), and returns the whole
 * length. -EINVAL for a file whose name only its opener knows (a cgroup directory).
 */
long nsbpf_fd_readlink(struct nsbpf_runtime *rt, int fd, char *buf, size_t size)
{
	struct bpf_fdtable *fdt = fdtable_of(rt);
	const struct bpf_file_ops *ops;
	struct bpf_file *file;
	bool cloexec;
	char text[64];
	long len;

	file = fdt ? fdtable_get(fdt, fd, &cloexec) : NULL;
	if (!file)
		return -EBADF;
	ops = &bpf_file_ops[file->kind];
	if (ops->readlink)
		len = ops->readlink(file, text, sizeof(text));
	else if (file->anon_name)
		len = snprintf(text, sizeof(text), "anon_inode:%s", file->anon_name);
	else
		len = -EINVAL;
	bpf_file_put(file);
	if (len < 0)
		return len;
	if (len >= (long)sizeof(text))
		len = sizeof(text) - 1;
	memcpy(buf, text, (size_t)len < size ? (size_t)len : size);
	return len;
}
