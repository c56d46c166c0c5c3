// The fuzzer's main: libFuzzer's driver on the target FUZZ_TARGET names (FuzzEntry.swift); libFuzzer's
// own flags (-max_total_time, corpus folders) pass through.
import Foundation
import FuzzDriver

_ = selectedTarget
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) })
