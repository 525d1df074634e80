# oob_read.s - reads past the end of its input. The interpreter stops it with an
# error naming the instruction instead of touching memory the program was not given.
	ldxdw r0, [r1+60]
	exit
