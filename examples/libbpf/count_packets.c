// SPDX-License-Identifier: MIT
/*
 * count_packets.c - an ordinary libbpf program, built and run unmodified: it loads a socket
 * filter that counts the packets it sees in an array map, runs it over a few packets with
 * BPF_PROG_TEST_RUN, pins the map, and reads everything back (ids, info, fdinfo, the pin).
 *
 * Run as root on a kernel that allows BPF, it talks to the kernel. Run with nsbpf's preload
 * shim (LD_PRELOAD=libnsbpf-preload.so), it talks to nsbpf instead, and needs no privilege.
 *
 * With --hold it keeps its program, map and pin until its standard input ends, so that other
 * processes (bpftool) can look at them meanwhile.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIN_DIR "/sys/fs/bpf/count_packets"
#define PIN_PATH PIN_DIR "/counter"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						 .off = (o), .imm = (i) })

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 1;
}

static void show_fdinfo(int fd)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("    %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	unsigned char packet[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1,
				     0x08, 0x00 };
	struct bpf_prog_info pinfo = { 0 };
	struct bpf_map_info minfo = { 0 };
	__u32 plen = sizeof(pinfo), mlen = sizeof(minfo), key = 0, id = 0;
	__u64 count = 0;
	int map_fd, prog_fd, pinned_fd;

	map_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "counter", sizeof(__u32), sizeof(__u64), 1,
				NULL);
	if (map_fd < 0)
		return fail("bpf_map_create");

	/* counter[0] += 1; return skb->len */
	struct bpf_insn insns[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
		INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
		INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
		INSN(BPF_LDX | BPF_MEM | BPF_W, 0, 6, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "count_packets", "GPL", insns,
				sizeof(insns) / sizeof(insns[0]), NULL);
	if (prog_fd < 0)
		return fail("bpf_prog_load");

	for (int i = 0; i < 3; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet,
			    .data_size_in = sizeof(packet));

		if (bpf_prog_test_run_opts(prog_fd, &run))
			return fail("bpf_prog_test_run_opts");
		printf("test run %d: retval %u (the packet's length)\n", i + 1, run.retval);
	}
	if (bpf_map_lookup_elem(map_fd, &key, &count))
		return fail("bpf_map_lookup_elem");
	printf("counter[0] = %llu\n", (unsigned long long)count);

	if (bpf_obj_get_info_by_fd(prog_fd, &pinfo, &plen) ||
	    bpf_obj_get_info_by_fd(map_fd, &minfo, &mlen))
		return fail("bpf_obj_get_info_by_fd");
	printf("prog: id %u, name %s, type %u, %u xlated bytes, tag %02x%02x%02x%02x%02x%02x%02x%02x\n",
	       pinfo.id, pinfo.name, pinfo.type, pinfo.xlated_prog_len, pinfo.tag[0], pinfo.tag[1],
	       pinfo.tag[2], pinfo.tag[3], pinfo.tag[4], pinfo.tag[5], pinfo.tag[6], pinfo.tag[7]);
	printf("map:  id %u, name %s, type %u, key %u, value %u, max_entries %u\n", minfo.id,
	       minfo.name, minfo.type, minfo.key_size, minfo.value_size, minfo.max_entries);
	printf("/proc/self/fdinfo/%d (the program):\n", prog_fd);
	show_fdinfo(prog_fd);

	printf("programs by id:");
	while (!bpf_prog_get_next_id(id, &id))
		if (id == pinfo.id)
			printf(" %u (ours)", id);
	printf("\n");

	if (mkdir(PIN_DIR, 0700) && errno != EEXIST)
		return fail("mkdir " PIN_DIR);
	if (bpf_obj_pin(map_fd, PIN_PATH))
		return fail("bpf_obj_pin");
	close(map_fd);
	pinned_fd = bpf_obj_get(PIN_PATH);
	if (pinned_fd < 0)
		return fail("bpf_obj_get");
	count = 0;
	bpf_map_lookup_elem(pinned_fd, &key, &count);
	printf("after closing the map's fd, the pin %s still holds it: counter[0] = %llu\n",
	       PIN_PATH, (unsigned long long)count);
	if (argc > 1 && !strcmp(argv[1], "--hold")) {
		char line[64];

		printf("holding them until standard input ends\n");
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin))
			;
	}
	unlink(PIN_PATH);
	rmdir(PIN_DIR);
	close(pinned_fd);
	close(prog_fd);
	return 0;
}
