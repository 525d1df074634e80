ldabsb 0
ldabsh 12
ldabsw 0x10
ldindw r1, -4
ldindh r2, 0
ldindb r3, 2
ja32 +0
jset32 r0, 0x80, +1
stb [r1+3], 0xff
stxh [r1-2], r2
exit
