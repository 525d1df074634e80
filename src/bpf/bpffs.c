// SPDX-License-Identifier: MIT
/*
 * bpffs.c - the virtual bpf filesystem (kernel/bpf/inode.c): a tree of directories and pins
 * below one mount point, "/sys/fs/bpf". OBJ_PIN makes a pin that holds its own reference on
 * a program, map (with a uref) or link; OBJ_GET opens a new file on a pinned object;
 * mkdir, unlink, rmdir, stat and readdir serve the shim, which routes those calls here for
 * paths below the mount point. Paths outside it are the host's: the answers there are the
 * kernel's for a directory that is not a bpffs (-EPERM to pin, -EACCES to get), found with
 * stat(2).
 *
 * Paths are resolved lexically ("." and ".." and repeated slashes; relative paths from the
 * process's cwd); bpffs has no symlinks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpf.h"
#include "link.h"

#define BPFFS_MOUNT "/sys/fs/bpf"

/* A directory or a pin. */
struct bpffs_node {
	char *name;
	bool dir;
	enum bpf_file_kind kind; /* pins: the object's kind */
	void *obj;		 /* pins: holds a reference (a uref for maps) */
	struct bpffs_node *parent;
	struct bpffs_node *children; /* directories: newest child first, as the dcache lists it */
	struct bpffs_node *next;     /* next older sibling */
	/* What stat(2) shows (the inode); a directory's nlink is counted from its children. */
	mode_t mode;
	uint64_t ino;
	uid_t uid;
	gid_t gid;
	struct timespec atime, mtime, ctime;
};

struct bpffs {
	/* Protects the tree below root (names, children, pins). */
	pthread_mutex_t lock;
	char *mount; /* the mount point, absolute and normalised */
	struct bpffs_node root;
	uint64_t next_ino; /* get_next_ino(); lock held */
};

/* How a pin holds its object: the reference bpf_any_get / bpf_any_put take. */
struct bpffs_obj_ops {
	void (*get)(void *obj);
	void (*put)(void *obj);
};

static void pin_prog_get(void *obj)
{
	bpf_prog_inc(obj);
}

static void pin_prog_put(void *obj)
{
	bpf_prog_put(obj);
}

static void pin_map_get(void *obj)
{
	bpf_map_inc_with_uref(obj);
}

static void pin_map_put(void *obj)
{
	bpf_map_put_with_uref(obj);
}

static void pin_link_get(void *obj)
{
	bpf_link_inc(obj);
}

static void pin_link_put(void *obj)
{
	bpf_link_put(obj);
}

static const struct bpffs_obj_ops bpffs_obj_ops[] = {
	[BPF_FILE_PROG] = { pin_prog_get, pin_prog_put },
	[BPF_FILE_MAP] = { pin_map_get, pin_map_put },
	[BPF_FILE_LINK] = { pin_link_get, pin_link_put },
};

int bpffs_new(struct bpffs **fsp)
{
	struct bpffs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	fs->mount = strdup(BPFFS_MOUNT);
	if (!fs->mount) {
		free(fs);
		return -ENOMEM;
	}
	pthread_mutex_init(&fs->lock, NULL);
	fs->root.dir = true;
	/* bpf_fill_super: sticky, open to all, owned by whoever mounted it; ino 1 is the root's */
	fs->root.mode = S_IFDIR | S_ISVTX | 0777;
	fs->root.ino = 1;
	fs->root.uid = geteuid();
	fs->root.gid = getegid();
	clock_gettime(CLOCK_REALTIME, &fs->root.mtime);
	fs->root.atime = fs->root.ctime = fs->root.mtime;
	fs->next_ino = 2;
	*fsp = fs;
	return 0;
}

/* Frees @node's subtree, dropping the references its pins hold. */
static void bpffs_node_free(struct bpffs_node *node)
{
	struct bpffs_node *child, *next;

	for (child = node->children; child; child = next) {
		next = child->next;
		bpffs_node_free(child);
	}
	if (!node->dir && node->obj)
		bpffs_obj_ops[node->kind].put(node->obj);
	free(node->name);
	free(node);
}

void bpffs_free(struct bpffs *fs)
{
	struct bpffs_node *child, *next;

	if (!fs)
		return;
	for (child = fs->root.children; child; child = next) {
		next = child->next;
		bpffs_node_free(child);
	}
	pthread_mutex_destroy(&fs->lock);
	free(fs->mount);
	free(fs);
}

/* ---- Paths ------------------------------------------------------------------------------ */

/* A path split into normalised components below "/". */
struct bpffs_path {
	char *buf;	    /* the components, NUL-separated */
	char **comp;	    /* comp[0..n) */
	unsigned int n;
	bool trailing_slash; /* the caller's path ended in '/' */
};

static void bpffs_path_free(struct bpffs_path *p)
{
	free(p->buf);
	free(p->comp);
}

static int bpffs_path_parse(const char *path, struct bpffs_path *p)
{
	size_t len = strlen(path), cwd_len = 0;
	char cwd[PATH_MAX] = "", *s, *tok, *save;
	unsigned int max;

	memset(p, 0, sizeof(*p));
	if (!len)
		return -ENOENT;
	if (path[0] != '/') {
		if (bpf_caller && bpf_caller->ops->getcwd) {
			int err = bpf_caller->ops->getcwd(bpf_caller->ctx, cwd, sizeof(cwd));

			if (err)
				return err;
		} else if (!getcwd(cwd, sizeof(cwd))) {
			return -errno;
		}
		cwd_len = strlen(cwd);
	}
	p->buf = malloc(cwd_len + len + 2);
	if (!p->buf)
		return -ENOMEM;
	memcpy(p->buf, cwd, cwd_len);
	p->buf[cwd_len] = '/';
	memcpy(p->buf + cwd_len + 1, path, len + 1);
	p->trailing_slash = path[len - 1] == '/';

	max = (unsigned int)(cwd_len + len) / 2 + 2;
	p->comp = calloc(max, sizeof(*p->comp));
	if (!p->comp) {
		free(p->buf);
		return -ENOMEM;
	}
	for (s = p->buf; (tok = strtok_r(s, "/", &save)); s = NULL) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (p->n)
				p->n--;
			continue;
		}
		if (strlen(tok) > NAME_MAX) {
			bpffs_path_free(p);
			return -ENAMETOOLONG;
		}
		p->comp[p->n++] = tok;
	}
	return 0;
}

/* How many leading components name the mount point; 0 if the path is not below it. */
static unsigned int bpffs_mount_depth(struct bpffs *fs, const struct bpffs_path *p)
{
	struct bpffs_path m;
	unsigned int i, depth = 0;

	if (bpffs_path_parse(fs->mount, &m))
		return 0;
	if (m.n <= p->n) {
		for (i = 0; i < m.n && !strcmp(m.comp[i], p->comp[i]); i++)
			;
		if (i == m.n)
			depth = m.n;
	}
	bpffs_path_free(&m);
	return depth;
}

bool bpffs_path_is_ours(struct bpf_state *st, const char *path)
{
	struct bpffs_path p;
	bool ours;

	if (bpffs_path_parse(path, &p))
		return false;
	ours = bpffs_mount_depth(st->fs, &p) > 0;
	bpffs_path_free(&p);
	return ours;
}

static struct bpffs_node *bpffs_child(struct bpffs_node *dir, const char *name)
{
	struct bpffs_node *child;

	for (child = dir->children; child; child = child->next)
		if (!strcmp(child->name, name))
			return child;
	return NULL;
}

/*
 * Walks components [first, last) from the root: the node, -ENOENT (missing) or -ENOTDIR (a
 * pin on the way). Must be called with fs->lock held.
 */
static int bpffs_walk(struct bpffs *fs, const struct bpffs_path *p, unsigned int first,
		      unsigned int last, struct bpffs_node **nodep)
{
	struct bpffs_node *node = &fs->root;
	unsigned int i;

	for (i = first; i < last; i++) {
		if (!node->dir)
			return -ENOTDIR;
		/* bpf_lookup: dots in names are reserved for future extensions */
		if (strchr(p->comp[i], '.'))
			return -EPERM;
		node = bpffs_child(node, p->comp[i]);
		if (!node)
			return -ENOENT;
	}
	*nodep = node;
	return 0;
}

/* The host's answer for creating @path outside bpffs (user_path_create, then not bpffs). */
static int bpffs_host_create(const char *path)
{
	char *dir = strdup(path), *slash;
	struct stat stbuf;
	int err;

	if (!dir)
		return -ENOMEM;
	if (lstat(path, &stbuf) == 0) {
		err = -EEXIST;
		goto out_free;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(slash ? dir : ".", &stbuf))
		err = -errno;
	else if (!S_ISDIR(stbuf.st_mode))
		err = -ENOTDIR;
	else
		err = -EPERM; /* the parent is not a bpffs directory */
out_free:
	free(dir);
	return err;
}

/*
 * The process's umask, which the kernel applies to what mkdir and OBJ_PIN create. Read from
 * /proc rather than with umask(2), which cannot be read without being changed for a moment
 * under the feet of other threads.
 */
static mode_t bpffs_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned int mask = 022;
	char line[128];

	if (!f)
		return mask;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &mask) == 1)
			break;
	fclose(f);
	return (mode_t)mask & 0777;
}

/* A change of @dir's entries, as simple_link/simple_unlink date it. */
static void bpffs_touch_dir(struct bpffs_node *dir)
{
	clock_gettime(CLOCK_REALTIME, &dir->mtime);
	dir->ctime = dir->mtime;
}

/*
 * A new node named by the last component, with @mode (type and permissions);
 * -EEXIST, -ENOENT, -ENOTDIR. Lock held.
 */
static int bpffs_create(struct bpffs *fs, const struct bpffs_path *p, unsigned int depth, bool dir,
			mode_t mode, struct bpffs_node **nodep)
{
	struct bpffs_node *parent, *node;
	int err;

	if (p->n == depth)
		return -EEXIST; /* the mount point itself */
	err = bpffs_walk(fs, p, depth, p->n - 1, &parent);
	if (err)
		return err;
	if (!parent->dir)
		return -ENOTDIR;
	if (strchr(p->comp[p->n - 1], '.'))
		return -EPERM; /* bpf_lookup, as in bpffs_walk() */
	if (bpffs_child(parent, p->comp[p->n - 1]))
		return -EEXIST;
	/* "a/b/" names a directory: only mkdir may create it */
	if (p->trailing_slash && !dir)
		return -ENOENT;
	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->name = strdup(p->comp[p->n - 1]);
	if (!node->name) {
		free(node);
		return -ENOMEM;
	}
	node->dir = dir;
	node->mode = mode;
	node->ino = fs->next_ino++;
	node->uid = geteuid();
	node->gid = getegid();
	/* inode_init_owner: a setgid directory hands down its group, and to directories the bit */
	if (parent->mode & S_ISGID) {
		node->gid = parent->gid;
		if (dir)
			node->mode |= S_ISGID;
	}
	bpffs_touch_dir(parent);
	node->atime = node->mtime = node->ctime = parent->mtime;
	node->parent = parent;
	node->next = parent->children;
	parent->children = node;
	*nodep = node;
	return 0;
}

/* Unlinks @node from its parent. Lock held. */
static void bpffs_unhash(struct bpffs_node *node)
{
	struct bpffs_node **pp;

	for (pp = &node->parent->children; *pp != node; pp = &(*pp)->next)
		;
	*pp = node->next;
	node->next = NULL;
	bpffs_touch_dir(node->parent);
}

/* ---- Operations --------------------------------------------------------------------------- */

int bpffs_pin(struct bpf_state *st, const char *path, struct bpf_file *file)
{
	struct bpffs *fs = st->fs;
	struct bpffs_node *node;
	struct bpffs_path p;
	unsigned int depth;
	mode_t mode;
	int err;

	err = bpffs_path_parse(path, &p);
	if (err)
		return err;
	depth = bpffs_mount_depth(fs, &p);
	if (!depth) {
		err = bpffs_host_create(path);
		goto out_free_path;
	}
	/* bpf_obj_do_pin */
	mode = S_IFREG | (0600 & ~bpffs_umask());
	pthread_mutex_lock(&fs->lock);
	err = bpffs_create(fs, &p, depth, false, mode, &node);
	if (!err) {
		node->kind = file->kind;
		node->obj = file->obj;
		bpffs_obj_ops[file->kind].get(file->obj);
	}
	pthread_mutex_unlock(&fs->lock);
out_free_path:
	bpffs_path_free(&p);
	return err;
}

/* The host's answer for opening @path outside bpffs: there, nothing is a bpf object. */
static int bpffs_host_get(const char *path)
{
	struct stat stbuf;

	if (stat(path, &stbuf))
		return -errno;
	return -EACCES;
}

int bpffs_get(struct bpf_state *st, const char *path, uint32_t f_flags, struct bpf_file **filep)
{
	struct bpffs *fs = st->fs;
	struct bpf_file *file;
	struct bpffs_node *node;
	enum bpf_file_kind kind;
	struct bpffs_path p;
	unsigned int depth;
	void *obj = NULL;
	int err;

	err = bpffs_path_parse(path, &p);
	if (err)
		return err;
	depth = bpffs_mount_depth(fs, &p);
	if (!depth) {
		err = bpffs_host_get(path);
		goto out_free_path;
	}
	pthread_mutex_lock(&fs->lock);
	err = bpffs_walk(fs, &p, depth, p.n, &node);
	if (!err && node->dir)
		err = -EACCES; /* not a bpf object (bpf_inode_type) */
	else if (!err && p.trailing_slash)
		err = -ENOTDIR;
	if (!err) {
		kind = node->kind;
		obj = node->obj;
		bpffs_obj_ops[kind].get(obj);
	}
	pthread_mutex_unlock(&fs->lock);
	if (err)
		goto out_free_path;

	/* Program fds are O_RDWR whatever was asked; link fds only open O_RDWR. */
	if (kind == BPF_FILE_PROG)
		f_flags = O_RDWR;
	else if (kind == BPF_FILE_LINK && f_flags != O_RDWR)
		err = -EINVAL;
	else if (kind == BPF_FILE_LINK)
		f_flags = O_RDONLY;
	file = err ? NULL : bpf_file_new(kind, obj, f_flags);
	if (!file) {
		bpffs_obj_ops[kind].put(obj);
		err = err ? err : -ENOMEM;
		goto out_free_path;
	}
	*filep = file;
out_free_path:
	bpffs_path_free(&p);
	return err;
}

int bpffs_mkdir(struct bpf_state *st, const char *path, uint32_t mode)
{
	struct bpffs *fs = st->fs;
	struct bpffs_node *node;
	struct bpffs_path p;
	unsigned int depth;
	int err;

	/* Every caller is root: permissions never refuse anything, but stat shows them. */
	err = bpffs_path_parse(path, &p);
	if (err)
		return err;
	depth = bpffs_mount_depth(fs, &p);
	if (!depth) {
		err = -EXDEV; /* not ours: the caller asks the host */
		goto out_free_path;
	}
	/* do_mkdirat and vfs_mkdir */
	mode = S_IFDIR | (mode & 01777 & ~bpffs_umask());
	pthread_mutex_lock(&fs->lock);
	err = bpffs_create(fs, &p, depth, true, mode, &node);
	pthread_mutex_unlock(&fs->lock);
out_free_path:
	bpffs_path_free(&p);
	return err;
}

/* unlink (@dir false) or rmdir (@dir true) of a node below the mount point. */
static int bpffs_remove(struct bpf_state *st, const char *path, bool dir)
{
	struct bpffs *fs = st->fs;
	struct bpffs_node *node = NULL;
	struct bpffs_path p;
	unsigned int depth;
	int err;

	err = bpffs_path_parse(path, &p);
	if (err)
		return err;
	depth = bpffs_mount_depth(fs, &p);
	if (!depth) {
		err = -EXDEV;
		goto out_free_path;
	}
	if (p.n == depth) {
		err = dir ? -EBUSY : -EISDIR; /* the mount point */
		goto out_free_path;
	}
	pthread_mutex_lock(&fs->lock);
	err = bpffs_walk(fs, &p, depth, p.n, &node);
	if (!err && dir && !node->dir)
		err = -ENOTDIR;
	else if (!err && !dir && node->dir)
		err = -EISDIR;
	else if (!err && dir && node->children)
		err = -ENOTEMPTY;
	if (!err)
		bpffs_unhash(node);
	pthread_mutex_unlock(&fs->lock);
	/* the pin's reference goes outside the lock: releasing a link may take other locks */
	if (!err)
		bpffs_node_free(node);
out_free_path:
	bpffs_path_free(&p);
	return err;
}

int bpffs_unlink(struct bpf_state *st, const char *path)
{
	return bpffs_remove(st, path, false);
}

int bpffs_rmdir(struct bpf_state *st, const char *path)
{
	return bpffs_remove(st, path, true);
}

/* A directory's links: its own name, its ".", and each subdirectory's "..". */
static nlink_t bpffs_nlink(const struct bpffs_node *node)
{
	const struct bpffs_node *child;
	nlink_t n = 2;

	if (!node->dir)
		return 1;
	for (child = node->children; child; child = child->next)
		n += child->dir;
	return n;
}

/* The node @path names, for stat and readdir: -EXDEV outside bpffs. Lock held on success. */
static int bpffs_lookup_locked(struct bpffs *fs, const char *path, struct bpffs_node **nodep)
{
	struct bpffs_path p;
	unsigned int depth;
	int err;

	err = bpffs_path_parse(path, &p);
	if (err)
		return err;
	depth = bpffs_mount_depth(fs, &p);
	if (!depth) {
		bpffs_path_free(&p);
		return -EXDEV;
	}
	pthread_mutex_lock(&fs->lock);
	err = bpffs_walk(fs, &p, depth, p.n, nodep);
	if (!err && p.trailing_slash && !(*nodep)->dir)
		err = -ENOTDIR;
	if (err)
		pthread_mutex_unlock(&fs->lock);
	bpffs_path_free(&p);
	return err;
}

int bpffs_stat(struct bpf_state *st, const char *path, struct stat *stbuf)
{
	struct bpffs *fs = st->fs;
	struct bpffs_node *node;
	int err;

	err = bpffs_lookup_locked(fs, path, &node);
	if (err)
		return err;
	memset(stbuf, 0, sizeof(*stbuf));
	stbuf->st_ino = node->ino;
	stbuf->st_mode = node->mode;
	stbuf->st_nlink = bpffs_nlink(node);
	stbuf->st_uid = node->uid;
	stbuf->st_gid = node->gid;
	stbuf->st_blksize = 4096; /* PAGE_SIZE; size and blocks stay 0 */
	stbuf->st_atim = node->atime;
	stbuf->st_mtim = node->mtime;
	stbuf->st_ctim = node->ctime;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

static void bpffs_dirent_set(struct nsbpf_bpffs_dirent *ent, const struct bpffs_node *node,
			     const char *name)
{
	ent->ino = node->ino;
	ent->type = node->dir ? DT_DIR : DT_REG;
	snprintf(ent->name, sizeof(ent->name), "%s", name);
}

long bpffs_readdir(struct bpf_state *st, const char *path, struct nsbpf_bpffs_dirent **entsp)
{
	struct bpffs *fs = st->fs;
	struct nsbpf_bpffs_dirent *ents;
	struct bpffs_node *node, *child;
	long n = 2;
	int err;

	err = bpffs_lookup_locked(fs, path, &node);
	if (err)
		return err;
	if (!node->dir) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOTDIR;
	}
	for (child = node->children; child; child = child->next)
		n++;
	ents = calloc((size_t)n, sizeof(*ents));
	if (!ents) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOMEM;
	}
	/* dcache_readdir: ".", ".." (the root is its own parent), then the dentries' order */
	bpffs_dirent_set(&ents[0], node, ".");
	bpffs_dirent_set(&ents[1], node->parent ? node->parent : node, "..");
	for (n = 2, child = node->children; child; child = child->next)
		bpffs_dirent_set(&ents[n++], child, child->name);
	pthread_mutex_unlock(&fs->lock);
	*entsp = ents;
	return n;
}
