/* SPDX-License-Identifier: MIT */
/*
 * transcript.h - the shared printing library of the kdiff scenarios.
 *
 * A scenario is an ordinary libbpf program. It runs twice, natively as root on the live kernel
 * and as an unprivileged user under the nsbpf preload shim, and run-scenario compares the two
 * transcripts it prints on stdout. Everything in a transcript must therefore be a fact a program
 * can observe and that should not differ between the two: each call is printed as
 * `name(args) = value` or `name(args) = -1 ENAME`; object ids, which the kernel draws from global
 * counters, are printed symbolically (P1, M2, L1, B1 in order of first appearance); fd numbers,
 * which depend on what else the process has open, are printed as F1, F2, ... by fd number; info
 * structs and fdinfo are printed field by field, leaving out only the values that differ
 * legitimately (each exclusion is documented in transcript.c where it is made).
 */
#ifndef NSBPF_KDIFF_TRANSCRIPT_H
#define NSBPF_KDIFF_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/bpf.h>

enum tr_kind {
	TR_PROG,
	TR_MAP,
	TR_LINK,
	TR_BTF,
	TR_NETNS, /* a network namespace, by inode number (N1, N2 ...) */
	TR_NR_KINDS,
};

/*
 * Starts a transcript: line-buffered stdout, a title line, and a probe of bpf(). If the kernel
 * refuses bpf() itself (EPERM, ENOSYS, EACCES) the scenario cannot say anything; it exits 77 with
 * "SKIP: <reason>" on stderr. Under the shim such a refusal is an nsbpf bug, and run-scenario
 * reports it as a failure.
 */
void tr_begin(const char *scenario);

/* Ends the transcript (prints the number of calls) and returns the exit status, 0. */
int tr_end(void);

/* A free-form line, for section titles and values that are not the result of a call. */
void tr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints `<call> = <ret>` (a plain number) or `<call> = -1 ENAME` when ret < 0, taking the errno
 * name from errno (libbpf sets errno to -ret; raw syscalls set it directly). Returns ret.
 */
long tr_rc(long ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* As tr_rc, for calls that return an fd: success prints its symbolic name (F1...). */
int tr_fd(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The symbolic name of an fd number (F1, F2, ... by first appearance of the number). */
const char *tr_fdname(int fd);

/*
 * The symbolic name of an object id of a kind: "P1", "M3", ...; 0 stays "0". The name is given
 * at first appearance, so a scenario should name its objects in creation order.
 */
const char *tr_id(enum tr_kind kind, __u32 id);

/* Whether an id was already named: GET_NEXT_ID walks list only the scenario's own objects. */
bool tr_id_known(enum tr_kind kind, __u32 id);

/*
 * The id behind an fd (by OBJ_GET_INFO_BY_FD), named now so that later walks recognise it.
 * Prints `id(Fn) = P1`; returns the raw id or 0 on error.
 */
__u32 tr_obj_id(enum tr_kind kind, int fd);

/* Field-by-field dumps of OBJ_GET_INFO_BY_FD; they print the call's result first. */
void tr_prog_info(int fd);
void tr_map_info(int fd);
void tr_btf_info(int fd);

/* The lines of /proc/self/fdinfo/<fd>: every key, values symbolised or marked as excluded. */
void tr_fdinfo(int fd);

/* Closes an fd and prints it. */
void tr_close(int fd);

/* bpf(2) directly, bypassing libbpf's own checks; the shim intercepts syscall() as libbpf's. */
long tr_sys_bpf(int cmd, void *attr, unsigned int size);

/*
 * The per-run pin directory: <bpffs root>/kdiff_<pid> (bpffs refuses names with a dot), created
 * at the first call, where the bpffs root is $NSBPF_KDIFF_BPFFS or /sys/fs/bpf. Transcripts print
 * paths inside it as $PIN/<name>. tr_pin_path() returns a static buffer (one of a few rotating
 * ones).
 */
const char *tr_pin_dir(void);
const char *tr_pin_path(const char *name);

/* Removes whatever is left in the pin directory and the directory itself. */
void tr_pin_cleanup(void);

/* A minimal valid BTF blob (one 4-byte int type, id 1) for BTF_LOAD and BTF-typed maps. */
const void *tr_btf_blob(size_t *size);

/*
 * Element ops on maps with __u32 keys and __u64 values, printed with their results. Flags print
 * by name (ANY, NOEXIST, EXIST, F_LOCK or the number). tr_lookup returns the call's result and
 * stores the value in *val when val is not NULL; tr_next_key takes NULL for the first key.
 */
int tr_update(int fd, __u32 key, __u64 val, __u64 flags);
int tr_lookup(int fd, __u32 key, __u64 *val);
int tr_delete(int fd, __u32 key);
int tr_lookup_and_delete(int fd, __u32 key);
int tr_next_key(int fd, const __u32 *key, __u32 *next);

/*
 * Walks a map's keys with get_next_key from NULL and prints them in one line with the walk's
 * final result. Hash maps iterate in an order of the implementation's choosing (the kernel's
 * jhash is seeded at random per map), so sort_keys prints them sorted; arrays keep their order.
 */
void tr_keys(int fd, bool sort_keys);

/* The name of a map or program type, for readable call lines. */
const char *tr_map_type(enum bpf_map_type type);

#endif /* NSBPF_KDIFF_TRANSCRIPT_H */
