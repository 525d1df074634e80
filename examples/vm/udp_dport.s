# udp_dport.s - returns the UDP destination port of an Ethernet/IPv4 frame, 0 for
# anything else. r1 = frame, r2 = its length. Every load is preceded by a length
# check, as the kernel's verifier would demand of a real packet program.
	mov r0, 0
	jlt r2, 34, out          # Ethernet (14) + minimal IPv4 header (20)
	ldxh r3, [r1+12]         # EtherType, big-endian on the wire
	be16 r3
	jne r3, 0x0800, out
	ldxb r4, [r1+14]         # version and IHL
	and r4, 0xf
	lsh r4, 2                # header length in bytes
	jlt r4, 20, out
	ldxb r5, [r1+23]         # protocol
	jne r5, 17, out
	mov r6, r4
	add r6, 22               # Ethernet + IP header + UDP header
	jgt r6, r2, out
	mov r7, r1
	add r7, r4
	ldxh r0, [r7+16]         # 14 + IHL + 2: destination port
	be16 r0
out:
	exit
