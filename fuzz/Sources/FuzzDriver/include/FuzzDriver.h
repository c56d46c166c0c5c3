// libFuzzer's driver, called from the fuzzer's main (SwiftPM renames an executable's main, so the one
// libFuzzer brings cannot be the entry point).
#ifndef FUZZ_DRIVER_H
#define FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
