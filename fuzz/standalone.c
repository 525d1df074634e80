// SPDX-License-Identifier: MIT
/*
 * standalone.c - a main() for the fuzz targets when libFuzzer is not there: the project
 * compiler builds them with it, so the sanitizer build (gcc ASan+UBSan) runs the same
 * checks. It replays every file named on the command line (a directory stands for the
 * files in it), then feeds N pseudo-random inputs from a fixed seed, so a run is
 * reproducible: a quarter are random bytes, the rest mutations of the replayed files,
 * which reach far deeper than random bytes when those files are valid programs.
 *
 * usage: standalone [-n N] [-s SEED] [-o FILE] [FILE|DIR]...
 * Prints the number of inputs run; any broken promise aborts inside the target. With -o,
 * each generated input is written to FILE before it runs, so a crash leaves it there.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define INPUT_MAX 4096

struct blob {
	uint8_t *data;
	size_t size;
};

static struct blob *files;
static const char *save_path;
static size_t nr_files, cap_files;

/* xorshift64*: small, fixed, and the same everywhere */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "standalone: %s %s: %s\n", what, path, strerror(errno));
	exit(2);
}

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct blob b = { 0 };
	size_t cap = 0, n;

	if (!f)
		die("cannot open", path);
	do {
		if (b.size == cap) {
			cap = cap ? cap * 2 : 1024;
			b.data = realloc(b.data, cap);
			if (!b.data)
				die("out of memory reading", path);
		}
		n = fread(b.data + b.size, 1, cap - b.size, f);
		b.size += n;
	} while (n);
	if (ferror(f))
		die("cannot read", path);
	fclose(f);
	if (nr_files == cap_files) {
		cap_files = cap_files ? cap_files * 2 : 64;
		files = realloc(files, cap_files * sizeof(*files));
		if (!files)
			die("out of memory reading", path);
	}
	files[nr_files++] = b;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of a directory in name order, so the mutations do not depend on readdir. */
static void add_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t nr = 0;

	if (!d)
		die("cannot open", path);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(path) + 1 + strlen(e->d_name) + 1;

		names = realloc(names, (nr + 1) * sizeof(*names));
		if (!names || !(names[nr] = malloc(len)))
			die("out of memory listing", path);
		snprintf(names[nr++], len, "%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, nr, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nr; i++) {
		struct stat st;

		if (!stat(names[i], &st) && S_ISREG(st.st_mode))
			add_file(names[i]);
		free(names[i]);
	}
	free(names);
}

/* A few byte-level edits of a known input, or fresh random bytes if there is none. */
static size_t make_input(uint8_t *buf)
{
	const struct blob *b;
	size_t size;

	if (!nr_files || rng() % 4 == 0) {
		size = rng() % 512;
		for (size_t i = 0; i < size; i++)
			buf[i] = (uint8_t)rng();
		return size;
	}
	b = &files[rng() % nr_files];
	size = b->size < INPUT_MAX ? b->size : INPUT_MAX;
	memcpy(buf, b->data, size);
	for (unsigned int edits = 1 + rng() % 4; edits; edits--) {
		size_t at = size ? rng() % size : 0;

		/* weighted towards edits that leave a valid program often enough to run */
		switch (rng() % 10) {
		case 0:
		case 1:
		case 2: /* flip a bit */
			if (size)
				buf[at] ^= (uint8_t)(1u << rng() % 8);
			break;
		case 3:
		case 4: /* a random byte */
			if (size)
				buf[at] = (uint8_t)rng();
			break;
		case 5:
		case 6:
		case 7: /* a small signed delta: offsets and immediates near their edges */
			if (size)
				buf[at] = (uint8_t)(buf[at] + (int)(rng() % 9) - 4);
			break;
		case 8: /* copy an 8-byte block (an instruction, say) elsewhere */
			if (size >= 16) {
				size_t from = rng() % (size - 8), to = rng() % (size - 8);

				memmove(buf + to, buf + from, 8);
			}
			break;
		case 9: /* drop the tail */
			size = at;
			break;
		}
	}
	return size;
}

/* The target must never read past what it is given: it gets a block of the exact size. */
static void run_one(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		die("out of memory", "");
	memcpy(copy, data, size);
	if (save_path) {
		FILE *f = fopen(save_path, "wb");

		if (!f || fwrite(data, 1, size, f) != size || fclose(f))
			die("cannot write", save_path);
	}
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
}

int main(int argc, char **argv)
{
	unsigned long long n = 10000, seed = 1;
	static uint8_t buf[INPUT_MAX];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			save_path = argv[++i];
		} else {
			struct stat st;

			if (stat(argv[i], &st))
				die("cannot stat", argv[i]);
			if (S_ISDIR(st.st_mode))
				add_dir(argv[i]);
			else
				add_file(argv[i]);
		}
	}
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t f = 0; f < nr_files; f++)
		run_one(files[f].data, files[f].size);
	for (unsigned long long k = 0; k < n; k++)
		run_one(buf, make_input(buf));
	printf("standalone: %zu files and %llu generated inputs run\n", nr_files, n);
	for (size_t f = 0; f < nr_files; f++)
		free(files[f].data);
	free(files);
	return 0;
}
