import CLinux
import Glibc
import Testing
@testable import DaemonRuntime

/// The idle heap trimmer: when it trims, and that a trim really gives free heap back.
@Suite struct IdleHeapTrimmerTests {
    @Test func policyTrimsOnceAtTheFirstQuietPeriodAfterABusyOne() {
        var policy = IdleTrimPolicy(quietCPU: .milliseconds(50))
        // CPU time spent in each period, in milliseconds: after start, the first quiet period trims
        // (starting allocated and freed), the next quiet ones do not; busy periods never trim, and the
        // first quiet one after them does, once.
        let periods: [Int64] = [3, 3, 0, 50, 4000, 49, 49]
        let trims = periods.map { policy.shouldTrim(cpuSpent: .milliseconds($0)) }
        #expect(trims == [true, false, false, false, false, true, false])
    }

    @Test func processCPUTimeCountsWorkDone() {
        let before = IdleHeapTrimmer.processCPUTime()
        var x: UInt64 = 1
        for i in 0..<20_000_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
        #expect(x != 0)
        #expect(IdleHeapTrimmer.processCPUTime() > before)
    }

    @Test func releasingTheFreeHeapShrinksTheResidentSet() throws {
        // 64 MiB in 16 KiB blocks (below the mmap threshold, so from the heap), all touched; every block
        // but the last freed: the last one pins the heap's top, so free() alone gives nothing back.
        let blockSize = 16 * 1024, count = 4096
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<count {
            let block = try #require(malloc(blockSize))
            memset(block, 0x5A, blockSize)
            blocks.append(block)
        }
        defer { free(blocks[count - 1]) }
        for block in blocks.dropLast() { free(block) }
        let before = try residentBytes()
        _ = clinux_release_free_heap()
        let after = try residentBytes()
        #expect(before - after >= count * blockSize / 2, "resident \(before) -> \(after) bytes")
    }

    /// This process's resident set from /proc/self/statm (its second field, in pages).
    private func residentBytes() throws -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(fd, &buffer, buffer.count)
        try #require(count > 0)
        let fields = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ")
        let pages = try #require(fields.count > 1 ? Int(fields[1]) : nil)
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
