// Nothing to compile: FuzzDriver only declares libFuzzer's driver (include/FuzzDriver.h).
