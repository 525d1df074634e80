// SPDX-License-Identifier: MIT
/*
 * runner.c - nsbpf-isa-runner: runs instruction-level test cases written in the `.data`
 * format of uBPF and bpf_conformance, our own corpus in tests/isa and the third-party one.
 *
 * A case file has sections introduced by `-- name` lines: `asm` (text for nsbpf_vm_asm),
 * `raw` (64-bit instruction words in hex, used instead of asm when present), `mem` (hex
 * bytes handed to the program as r1 = pointer, r2 = length), `result` (expected r0, hex)
 * and `error` (text that must occur in the load or run error). Other sections (`c`,
 * `no register offset`, ...) are ignored, and `#` lines are comments. Each case runs once
 * through test_env_run(), the environment the conformance plugin and the fuzzer share, so
 * the three agree on helpers and memory. One line per case, a summary, and a non-zero exit
 * status if anything failed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsbpf/vm.h"
#include "test_env.h"

/* Enough for every honest case; a loop that never ends is stopped with an error. */
#define RUN_BUDGET 10000000ull
#define EXIT_SKIP 77
/* A child's status for a case that failed and said so; anything else is a crash. */
#define EXIT_CASE_FAILED 3

struct data_case {
	char *asm_src; /* NULL: no asm section */
	struct nsbpf_insn *raw;
	uint32_t nr_raw;
	bool has_raw;
	uint8_t *mem;
	size_t mem_len;
	bool has_result;
	uint64_t result;
	char *error; /* NULL: no error expected */
};

enum section {
	SEC_NONE,
	SEC_ASM,
	SEC_RAW,
	SEC_MEM,
	SEC_RESULT,
	SEC_ERROR,
	SEC_IGNORED,
};

/* A growable text or byte buffer; `len` excludes the terminating NUL kept for text. */
struct buf {
	char *data;
	size_t len, cap;
};

static int buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static void data_case_free(struct data_case *c)
{
	free(c->asm_src);
	free(c->raw);
	free(c->mem);
	free(c->error);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*end = '\0';
	return s;
}

static enum section section_of(const char *name)
{
	if (!strcmp(name, "asm"))
		return SEC_ASM;
	if (!strcmp(name, "raw"))
		return SEC_RAW;
	if (!strcmp(name, "mem"))
		return SEC_MEM;
	if (!strcmp(name, "result"))
		return SEC_RESULT;
	if (!strcmp(name, "error"))
		return SEC_ERROR;
	return SEC_IGNORED;
}

/* Parses a whole hex token into *v; 0x prefix optional. */
static int parse_hex(const char *tok, uint64_t *v)
{
	char *end;

	if (!*tok || *tok == '-' || *tok == '+')
		return -EINVAL;
	errno = 0;
	*v = strtoull(tok, &end, 16);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/*
 * An instruction word as uBPF writes it: the instruction's 8 bytes read as a little-endian
 * number, so the opcode is the low byte and imm the high 32 bits. Fields are extracted one
 * by one because the order of the register bit-fields in the struct is the compiler's.
 */
static struct nsbpf_insn insn_of_word(uint64_t w)
{
	struct nsbpf_insn insn = {
		.code = (uint8_t)w,
		.dst_reg = (w >> 8) & 0xf,
		.src_reg = (w >> 12) & 0xf,
		.off = (int16_t)(uint16_t)(w >> 16),
		.imm = (int32_t)(uint32_t)(w >> 32),
	};

	return insn;
}

static int add_raw_line(struct data_case *c, char *line, char *why, size_t why_size)
{
	struct nsbpf_insn *insns;
	uint64_t w;

	if (parse_hex(line, &w)) {
		snprintf(why, why_size, "bad raw instruction \"%s\"", line);
		return -EINVAL;
	}
	insns = realloc(c->raw, (c->nr_raw + 1) * sizeof(*insns));
	if (!insns)
		return -ENOMEM;
	c->raw = insns;
	c->raw[c->nr_raw++] = insn_of_word(w);
	return 0;
}

static int add_mem_line(struct buf *mem, char *line, char *why, size_t why_size)
{
	for (char *tok = strtok(line, " \t"); tok; tok = strtok(NULL, " \t")) {
		uint64_t v;
		uint8_t byte;

		if (parse_hex(tok, &v) || v > 0xff) {
			snprintf(why, why_size, "bad mem byte \"%s\"", tok);
			return -EINVAL;
		}
		byte = (uint8_t)v;
		if (buf_append(mem, &byte, 1))
			return -ENOMEM;
	}
	return 0;
}

/*
 * Splits the file's text into the case's sections. The asm text keeps one line per line of
 * the file (everything else blanked) so the assembler's "line N" is the file's line N.
 */
static int parse_case(char *text, struct data_case *c, char *why, size_t why_size)
{
	struct buf asm_src = { 0 }, mem = { 0 }, error = { 0 };
	enum section sec = SEC_NONE;
	bool has_asm = false, has_mem = false, has_error = false;
	char *next;
	int err = 0;

	for (char *line = text; line; line = next) {
		char *s;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		s = trim(line);
		if (!strncmp(s, "--", 2)) {
			sec = section_of(trim(s + 2));
			has_asm |= sec == SEC_ASM;
			has_mem |= sec == SEC_MEM;
			has_error |= sec == SEC_ERROR;
			if (sec == SEC_RESULT && c->has_result) {
				snprintf(why, why_size, "two result sections");
				err = -EINVAL;
				goto out;
			}
			err = buf_append(&asm_src, "\n", 1);
			if (err)
				goto out;
			continue;
		}
		if (sec == SEC_ASM && *s != '#')
			err = buf_append(&asm_src, s, strlen(s));
		if (!err)
			err = buf_append(&asm_src, "\n", 1);
		if (err)
			goto out;
		if (*s == '#' || !*s)
			continue;

		switch (sec) {
		case SEC_RAW:
			c->has_raw = true;
			err = add_raw_line(c, s, why, why_size);
			break;
		case SEC_MEM:
			err = add_mem_line(&mem, s, why, why_size);
			break;
		case SEC_RESULT:
			if (c->has_result || parse_hex(s, &c->result)) {
				snprintf(why, why_size, "bad result \"%s\"", s);
				err = -EINVAL;
			}
			c->has_result = true;
			break;
		case SEC_ERROR:
			if (error.len)
				err = buf_append(&error, " ", 1);
			if (!err)
				err = buf_append(&error, s, strlen(s));
			break;
		case SEC_NONE:
			snprintf(why, why_size, "text before the first section: \"%s\"", s);
			err = -EINVAL;
			break;
		default:
			break;
		}
		if (err)
			goto out;
	}

	if (!has_asm && !c->has_raw) {
		snprintf(why, why_size, "no asm or raw section");
		err = -EINVAL;
		goto out;
	}
	if (has_error && !error.len) {
		snprintf(why, why_size, "empty error section");
		err = -EINVAL;
		goto out;
	}
	if (!c->has_result && !has_error) {
		snprintf(why, why_size, "no result or error section");
		err = -EINVAL;
		goto out;
	}
	if (has_asm) {
		c->asm_src = asm_src.data;
		asm_src.data = NULL;
	}
	if (has_mem && mem.len) {
		c->mem = (uint8_t *)mem.data;
		c->mem_len = mem.len;
		mem.data = NULL;
	}
	if (has_error) {
		c->error = error.data;
		error.data = NULL;
	}
out:
	if (err == -ENOMEM)
		snprintf(why, why_size, "out of memory");
	free(asm_src.data);
	free(mem.data);
	free(error.data);
	return err;
}

static int read_file(const char *path, char **text, char *why, size_t why_size)
{
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	FILE *f;
	int err = 0;

	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		snprintf(why, why_size, "cannot open: %s", strerror(-err));
		return err;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		err = buf_append(&b, chunk, n);
		if (err)
			goto out_close;
	}
	if (ferror(f)) {
		err = -EIO;
		goto out_close;
	}
	if (!b.data)
		err = buf_append(&b, "", 0);
out_close:
	fclose(f);
	if (err) {
		snprintf(why, why_size, "cannot read: %s", strerror(-err));
		free(b.data);
		return err;
	}
	*text = b.data;
	return 0;
}

/*
 * Runs the case; 0 if it behaved as expected, else -EINVAL. Either way `why` says what
 * happened (the error or r0), for a FAIL line or a verbose PASS line.
 */
static int run_case(const struct data_case *c, char *why, size_t why_size)
{
	struct nsbpf_insn *insns = c->raw, *assembled = NULL;
	uint32_t nr_insns = c->nr_raw;
	char err_msg[256] = "";
	uint8_t *mem = NULL;
	uint64_t r0 = 0;
	int ret, err = -EINVAL;

	if (!c->has_raw) {
		ret = nsbpf_vm_asm(c->asm_src, &assembled, &nr_insns, err_msg, sizeof(err_msg));
		if (ret) {
			snprintf(why, why_size, "asm: %s", err_msg[0] ? err_msg : strerror(-ret));
			goto out;
		}
		insns = assembled;
	}
	/* A fresh copy of exactly mem_len bytes each run, so overruns reach ASan. */
	if (c->mem_len) {
		mem = malloc(c->mem_len);
		if (!mem) {
			snprintf(why, why_size, "out of memory");
			goto out;
		}
		memcpy(mem, c->mem, c->mem_len);
	}

	ret = test_env_run(insns, nr_insns, mem, c->mem_len, RUN_BUDGET, &r0, err_msg,
			   sizeof(err_msg));
	if (ret && !err_msg[0])
		snprintf(err_msg, sizeof(err_msg), "%s", strerror(-ret));

	if (c->error) {
		if (!ret)
			snprintf(why, why_size, "expected error \"%s\", got r0 = 0x%llx", c->error,
				 (unsigned long long)r0);
		else if (!strstr(err_msg, c->error))
			snprintf(why, why_size, "expected error \"%s\", got \"%s\"", c->error,
				 err_msg);
		else
			err = 0;
		if (!err)
			snprintf(why, why_size, "%s", err_msg);
	} else if (ret) {
		snprintf(why, why_size, "expected 0x%llx, got error %d: %s",
			 (unsigned long long)c->result, ret, err_msg);
	} else if (r0 != c->result) {
		snprintf(why, why_size, "expected 0x%llx, got 0x%llx",
			 (unsigned long long)c->result, (unsigned long long)r0);
	} else {
		snprintf(why, why_size, "0x%llx", (unsigned long long)r0);
		err = 0;
	}
out:
	free(mem);
	free(assembled);
	return err;
}

struct totals {
	unsigned int passed, failed;
	bool verbose; /* PASS lines also show r0 or the error text that matched */
};

/* Parses and runs one file, prints its PASS/FAIL line; 0 if it passed. */
static int run_file(const char *path, const char *name, bool verbose)
{
	struct data_case c = { 0 };
	char why[512] = "", *text = NULL;
	int err;

	err = read_file(path, &text, why, sizeof(why));
	if (!err)
		err = parse_case(text, &c, why, sizeof(why));
	if (!err)
		err = run_case(&c, why, sizeof(why));
	if (err)
		printf("FAIL %s: %s\n", name, why);
	else if (verbose)
		printf("PASS %s: %s\n", name, why);
	else
		printf("PASS %s\n", name);
	fflush(stdout);
	data_case_free(&c);
	free(text);
	return err;
}

/*
 * Each case runs in a child process: a VM that crashes on one case (the bugs this corpus
 * hunts) costs that case a FAIL line instead of hiding every case after it.
 */
static void run_isolated(const char *path, const char *name, struct totals *t)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		if (run_file(path, name, t->verbose))
			t->failed++;
		else
			t->passed++;
		return;
	}
	if (!pid)
		_exit(run_file(path, name, t->verbose) ? EXIT_CASE_FAILED : 0);

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		t->passed++;
		return;
	}
	t->failed++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CASE_FAILED)
		return; /* the child printed its FAIL line */
	if (WIFSIGNALED(status))
		printf("FAIL %s: crashed: %s\n", name, strsignal(WTERMSIG(status)));
	else
		printf("FAIL %s: crashed: exit status %d\n", name, WEXITSTATUS(status));
	fflush(stdout);
}

static int is_data_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".data");
}

/* Every *.data directly inside dir, in byte order of their names. */
static int run_dir(const char *dir, struct totals *t)
{
	struct dirent **list;
	int n, err = 0;

	n = scandir(dir, &list, is_data_file, alphasort);
	if (n < 0) {
		err = -errno;
		fprintf(stderr, "nsbpf-isa-runner: %s: %s\n", dir, strerror(errno));
		return err;
	}
	if (!n) {
		fprintf(stderr, "nsbpf-isa-runner: no .data files in %s\n", dir);
		err = -ENOENT;
	}
	for (int i = 0; i < n; i++) {
		size_t size = strlen(dir) + strlen(list[i]->d_name) + 2;
		char *path = malloc(size);

		if (path) {
			snprintf(path, size, "%s/%s", dir, list[i]->d_name);
			run_isolated(path, list[i]->d_name, t);
			free(path);
		} else {
			err = -ENOMEM;
		}
		free(list[i]);
	}
	free(list);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nsbpf-isa-runner [-v] [--skip-if-missing WHAT] FILE|DIR...\n"
		   "  Runs .data test cases (every *.data of a DIR, sorted by name).\n"
		   "  -v                      PASS lines show r0 or the matched error\n"
		   "  --skip-if-missing WHAT  if a path does not exist, print\n"
		   "                          \"SKIP: WHAT not found at PATH\" and exit %d\n",
		EXIT_SKIP);
}

int main(int argc, char **argv)
{
	struct totals t = { 0 };
	const char *skip_what = NULL;
	bool io_error = false;
	struct stat st;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v")) {
			t.verbose = true;
		} else if (!strcmp(argv[i], "--skip-if-missing") && i + 1 < argc) {
			skip_what = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	/* Missing input is decided before running anything, so a skip runs nothing. */
	for (int j = i; skip_what && j < argc; j++) {
		if (stat(argv[j], &st) && errno == ENOENT) {
			printf("SKIP: %s not found at %s\n", skip_what, argv[j]);
			return EXIT_SKIP;
		}
	}

	for (; i < argc; i++) {
		if (stat(argv[i], &st)) {
			fprintf(stderr, "nsbpf-isa-runner: %s: %s\n", argv[i], strerror(errno));
			io_error = true;
		} else if (S_ISDIR(st.st_mode)) {
			io_error |= run_dir(argv[i], &t) != 0;
		} else {
			const char *base = strrchr(argv[i], '/');

			run_isolated(argv[i], base ? base + 1 : argv[i], &t);
		}
	}
	printf("%u passed, %u failed\n", t.passed, t.failed);
	return t.failed || io_error || !t.passed ? 1 : 0;
}
