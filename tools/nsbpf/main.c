// SPDX-License-Identifier: MIT
/*
 * main.c - the `nsbpf` command: assemble, disassemble and run eBPF programs on the VM.
 *
 *   nsbpf asm [-o OUT] [--hex] FILE      text (FILE or - for stdin) to raw instructions
 *   nsbpf disasm [--hex] FILE            raw instructions to text, one per line
 *   nsbpf run FILE [--mem HEX] [--budget N]
 *   nsbpf help
 *
 * Raw programs are little-endian 8-byte instructions, the kernel's struct bpf_insn. `run`
 * gives the program the --mem bytes as a read-write region, r1 pointing at it and r2
 * holding its length (the same bytes serve the legacy packet loads), and prints r0, the
 * instruction count and, if the program changed it, the memory. No helpers exist, so a
 * program that calls one is rejected at load. Each subcommand is one function below,
 * listed in the table at the end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsbpf/vm.h"

#define INSN_SIZE 8
/* Stops a runaway loop in about a second unless the user asks for more (0: no limit). */
#define DEFAULT_BUDGET 100000000ull

enum {
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

/* Options of all subcommands; each says which it accepts. */
enum opt_flag {
	OPT_OUT = 1,
	OPT_HEX = 2,
	OPT_MEM = 4,
	OPT_BUDGET = 8,
};

struct opts {
	const char *file;
	const char *out;
	const char *mem;
	const char *budget;
	bool hex;
};

/* Reports an error on stderr; returns the exit status, which callers pass up to main(). */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("nsbpf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

static int parse_opts(int argc, char **argv, unsigned int allowed, struct opts *o)
{
	static const struct {
		const char *name;
		enum opt_flag flag;
	} names[] = {
		{ "-o", OPT_OUT },
		{ "--hex", OPT_HEX },
		{ "--mem", OPT_MEM },
		{ "--budget", OPT_BUDGET },
	};

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		enum opt_flag flag = 0;

		/* `-` alone is stdin, a file name like any other */
		if (arg[0] != '-' || !arg[1]) {
			if (o->file) {
				fprintf(stderr, "nsbpf %s: one FILE only ('%s')\n", argv[0], arg);
				return -EINVAL;
			}
			o->file = arg;
			continue;
		}
		for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
			if (!strcmp(arg, names[n].name))
				flag = names[n].flag;
		if (!(flag & allowed)) {
			fprintf(stderr, "nsbpf %s: unknown option '%s'\n", argv[0], arg);
			return -EINVAL;
		}
		if (flag == OPT_HEX) {
			o->hex = true;
			continue;
		}
		if (i + 1 == argc) {
			fprintf(stderr, "nsbpf %s: %s needs a value\n", argv[0], arg);
			return -EINVAL;
		}
		if (flag == OPT_OUT)
			o->out = argv[++i];
		else if (flag == OPT_MEM)
			o->mem = argv[++i];
		else
			o->budget = argv[++i];
	}
	if (!o->file) {
		fprintf(stderr, "nsbpf %s: missing FILE (see nsbpf help)\n", argv[0]);
		return -EINVAL;
	}
	return 0;
}

/* The whole of `path` (- for stdin), NUL-terminated so text can be used as a string. */
static int read_all(const char *path, char **data, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 4096, n = 0;
	char *buf = NULL, *p;
	int err = 0;

	if (!f)
		return -errno;
	for (;;) {
		p = realloc(buf, cap + 1);
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		buf = p;
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
	}
	if (ferror(f)) {
		err = -EIO;
		goto out;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return err;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Hex bytes, in groups separated by white space ("00 11 22" or "001122"); `#` starts a
 * comment up to the end of the line. The result is malloc()ed, never NULL on success.
 */
static int parse_hex(const char *text, uint8_t **bytes, size_t *len)
{
	uint8_t *out = malloc(strlen(text) / 2 + 1);
	const char *p = text;
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	while (*p) {
		int hi, lo;

		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			p++;
			continue;
		}
		hi = hex_digit(p[0]);
		lo = hi < 0 ? -1 : hex_digit(p[1]);
		if (lo < 0) {
			free(out);
			return -EINVAL;
		}
		out[n++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	*bytes = out;
	*len = n;
	return 0;
}

static void insn_to_bytes(const struct nsbpf_insn *insn, uint8_t b[INSN_SIZE])
{
	uint16_t off = (uint16_t)insn->off;
	uint32_t imm = (uint32_t)insn->imm;

	b[0] = insn->code;
	b[1] = (uint8_t)(insn->dst_reg | insn->src_reg << 4);
	b[2] = (uint8_t)off;
	b[3] = (uint8_t)(off >> 8);
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(imm >> (8 * i));
}

static void insn_from_bytes(const uint8_t b[INSN_SIZE], struct nsbpf_insn *insn)
{
	uint32_t imm = 0;

	for (int i = 3; i >= 0; i--)
		imm = imm << 8 | b[4 + i];
	insn->code = b[0];
	insn->dst_reg = b[1] & 0x0f;
	insn->src_reg = b[1] >> 4;
	insn->off = (int16_t)(uint16_t)(b[2] | b[3] << 8);
	insn->imm = (int32_t)imm;
}

static int bytes_to_insns(const uint8_t *bytes, size_t len, struct nsbpf_insn **insns,
			  uint32_t *nr)
{
	size_t count = len / INSN_SIZE;

	if (len % INSN_SIZE)
		return fail("%zu bytes is not a whole number of %d-byte instructions", len,
			    INSN_SIZE);
	if (count > NSBPF_VM_MAX_INSNS)
		return fail("%zu instructions, more than the VM takes", count);
	*insns = calloc(count ? count : 1, sizeof(**insns));
	if (!*insns)
		return fail("out of memory");
	for (size_t i = 0; i < count; i++)
		insn_from_bytes(bytes + i * INSN_SIZE, &(*insns)[i]);
	*nr = (uint32_t)count;
	return 0;
}

static int assemble_file(const char *path, struct nsbpf_insn **insns, uint32_t *nr)
{
	char *text, msg[256];
	size_t len;
	int err;

	err = read_all(path, &text, &len);
	if (err)
		return fail("%s: %s", path, strerror(-err));
	if (strlen(text) != len) {
		free(text);
		return fail("%s: not a text file (NUL byte)", path);
	}
	err = nsbpf_vm_asm(text, insns, nr, msg, sizeof(msg));
	free(text);
	if (err)
		return fail("%s: %s", path, msg[0] ? msg : strerror(-err));
	return 0;
}

/* A raw program, as binary or (hex) as the text `asm --hex` writes. */
static int read_program(const char *path, bool hex, struct nsbpf_insn **insns, uint32_t *nr)
{
	uint8_t *bytes;
	size_t len;
	char *data;
	int err;

	err = read_all(path, &data, &len);
	if (err)
		return fail("%s: %s", path, strerror(-err));
	if (!hex) {
		err = bytes_to_insns((const uint8_t *)data, len, insns, nr);
		free(data);
		return err;
	}
	err = parse_hex(data, &bytes, &len);
	free(data);
	if (err)
		return fail("%s: %s", path, err == -EINVAL ? "malformed hex" : strerror(-err));
	err = bytes_to_insns(bytes, len, insns, nr);
	free(bytes);
	return err;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int write_program(FILE *f, const struct nsbpf_insn *insns, uint32_t nr, bool hex)
{
	uint8_t b[INSN_SIZE];

	for (uint32_t i = 0; i < nr; i++) {
		insn_to_bytes(&insns[i], b);
		if (!hex) {
			fwrite(b, 1, sizeof(b), f);
			continue;
		}
		for (int j = 0; j < INSN_SIZE; j++)
			fprintf(f, "%02x%c", b[j], j + 1 < INSN_SIZE ? ' ' : '\n');
	}
	return ferror(f) ? -EIO : 0;
}

static int cmd_asm(int argc, char **argv)
{
	struct nsbpf_insn *insns = NULL;
	FILE *out = stdout;
	struct opts o;
	uint32_t nr;
	int ret;

	if (parse_opts(argc, argv, OPT_OUT | OPT_HEX, &o))
		return EXIT_USAGE;
	if (!o.out && !o.hex && isatty(STDOUT_FILENO))
		return fail("asm: not writing binary to a terminal; use -o FILE or --hex");
	ret = assemble_file(o.file, &insns, &nr);
	if (ret)
		return ret;
	if (o.out) {
		out = fopen(o.out, o.hex ? "w" : "wb");
		if (!out) {
			ret = fail("%s: %s", o.out, strerror(errno));
			goto out;
		}
	}
	if (write_program(out, insns, nr, o.hex) || fflush(out))
		ret = fail("%s: write error", o.out ? o.out : "stdout");
	if (out != stdout && fclose(out) && !ret)
		ret = fail("%s: %s", o.out, strerror(errno));
out:
	free(insns);
	return ret;
}

static int cmd_disasm(int argc, char **argv)
{
	struct nsbpf_insn *insns = NULL;
	char text[128];
	struct opts o;
	uint32_t nr;
	int ret;

	if (parse_opts(argc, argv, OPT_HEX, &o))
		return EXIT_USAGE;
	ret = read_program(o.file, o.hex, &insns, &nr);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < nr;) {
		int n = nsbpf_vm_disasm_insn(insns, nr, i, text, sizeof(text));

		if (n < 0) {
			uint8_t b[INSN_SIZE];

			/* show the bytes and go on: the rest of the program may still help */
			insn_to_bytes(&insns[i], b);
			printf("%5u: (invalid) %02x %02x %02x %02x %02x %02x %02x %02x\n", i, b[0],
			       b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
			ret = fail("disasm: instruction %u cannot be decoded", i);
			n = 1;
		} else {
			printf("%5u: %s\n", i, text);
		}
		i += (uint32_t)n;
	}
	free(insns);
	return ret;
}

static int cmd_run(int argc, char **argv)
{
	struct nsbpf_vm_prog *prog = NULL;
	struct nsbpf_insn *insns = NULL;
	struct nsbpf_vm_run *run = NULL;
	uint64_t budget = DEFAULT_BUDGET, r0 = 0;
	uint8_t *mem = NULL, *before = NULL;
	size_t mem_len = 0;
	char log[256] = "";
	struct opts o;
	uint32_t nr;
	int ret, err;

	if (parse_opts(argc, argv, OPT_MEM | OPT_BUDGET, &o))
		return EXIT_USAGE;
	if (o.budget) {
		char *end;

		errno = 0;
		budget = strtoull(o.budget, &end, 0);
		if (!o.budget[0] || *end || errno || o.budget[0] == '-')
			return fail("run: invalid --budget '%s'", o.budget);
	}
	if (o.mem && parse_hex(o.mem, &mem, &mem_len))
		return fail("run: --mem wants hex bytes, e.g. \"00 11 22\"");

	ret = has_suffix(o.file, ".s") ? assemble_file(o.file, &insns, &nr) :
					 read_program(o.file, false, &insns, &nr);
	if (ret)
		goto out;
	err = nsbpf_vm_load(insns, nr, NULL, &prog, log, sizeof(log));
	if (err) {
		ret = fail("%s: load: %s", o.file, log[0] ? log : strerror(-err));
		goto out;
	}
	run = malloc(sizeof(*run));
	if (!run) {
		ret = fail("out of memory");
		goto out;
	}
	nsbpf_vm_run_init(run);
	run->insn_budget = budget;
	if (mem_len) {
		run->ld_abs_data = mem;
		run->ld_abs_len = (uint32_t)(mem_len > UINT32_MAX ? UINT32_MAX : mem_len);
		err = nsbpf_vm_run_add_region(run, mem, mem_len, NSBPF_VM_RW);
		if (err) {
			ret = fail("run: %s", strerror(-err));
			goto out;
		}
	}
	if (mem_len) {
		before = malloc(mem_len);
		if (!before) {
			ret = fail("out of memory");
			goto out;
		}
		memcpy(before, mem, mem_len);
	}
	err = nsbpf_vm_exec(prog, run, (uintptr_t)mem, mem_len, &r0);
	if (err) {
		ret = fail("%s: %s (%s)", o.file, run->err_msg, strerror(-err));
		goto out;
	}
	printf("r0 = 0x%llx\n", (unsigned long long)r0);
	printf("insns = %llu\n", (unsigned long long)run->insn_count);
	/* what the program wrote is part of its result */
	if (mem_len && memcmp(before, mem, mem_len)) {
		printf("mem =");
		for (size_t i = 0; i < mem_len; i++)
			printf(" %02x", mem[i]);
		printf("\n");
	}
out:
	free(run);
	nsbpf_vm_prog_free(prog);
	free(insns);
	free(before);
	free(mem);
	return ret;
}

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
} commands[] = {
	{ "asm", cmd_asm, "[-o OUT] [--hex] FILE",
	  "assemble FILE (- for stdin) into raw instructions, or hex text with --hex" },
	{ "disasm", cmd_disasm, "[--hex] FILE",
	  "disassemble raw instructions (hex text with --hex), one per line" },
	{ "run", cmd_run, "FILE [--mem HEX] [--budget N]",
	  "run FILE (.s is assembled, anything else is raw) over the --mem bytes\n"
	  "\t\t(r1 = pointer, r2 = length); print r0 and the instruction count.\n"
	  "\t\t--budget: instructions allowed, 0 for no limit (default 100000000)" },
	{ "help", cmd_help, "", "this text" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: nsbpf COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  nsbpf %s%s%s\n\t\t%s\n", commands[i].name,
			commands[i].args[0] ? " " : "", commands[i].args, commands[i].help);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(argc - 1, argv + 1);
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "nsbpf: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
