/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - the entry point every fuzz target defines, as libFuzzer calls it. The same
 * targets link either with libFuzzer (clang) or with standalone.c (any compiler), which
 * replays files and deterministic pseudo-random inputs through it.
 */
#ifndef NSBPF_FUZZ_H
#define NSBPF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; must return 0. Anything wrong is reported by aborting. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* NSBPF_FUZZ_H */
