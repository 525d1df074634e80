lddw r1, map_fd 3
lddw r2, map_value 3, 16
lddw r3, map_idx 0
lddw r4, map_idx_value 1, 8
lddw r5, btf_id 9
callx r5
exit
