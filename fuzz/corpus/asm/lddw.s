lddw %r0, 0x123456789abcdef0
stxdw [%r10-8], %r0
mov %r1, 1
lock fetch add [%r10-8], %r1
lock cmpxchg [%r10-8], %r1
lock xchg32 [%r10-4], %r1
jne %r1, %r0, exit
ldxdw %r1, [%r10-8]
mov32 %r0, -1
exit
