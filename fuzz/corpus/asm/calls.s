	lddw r1, func +4
	call local +3
	call 2
	exit
	mov r0, r1
	be16 r0
	neg32 r0
	exit
f:
	movsx832 r0, r1
	sdiv r0, -3
	smod32 r0, 0x7fffffff
	exit
