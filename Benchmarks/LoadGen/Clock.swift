import Glibc

/// CLOCK_MONOTONIC in nanoseconds: system-wide on Linux, so stamps taken by another process
/// (Benchmarks/spawnloop.c `stamp`) compare directly.
enum Clock {
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    static func deadline(afterSeconds seconds: Double) -> Int64 { now() + Int64(seconds * 1e9) }

    static func sleep(milliseconds: Int) { usleep(useconds_t(milliseconds * 1000)) }
}

/// Latency samples in nanoseconds, summarised as milliseconds.
struct Samples {
    private(set) var values: [Int64] = []
    mutating func add(_ ns: Int64) { values.append(ns) }
    mutating func add(_ other: Samples) { values += other.values }

    /// The q-quantile (0...1) in milliseconds, nearest-rank; nil without samples.
    func quantile(_ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)
        return Double(sorted[max(0, rank)]) / 1e6
    }

    /// `{prefix}_p50_ms`, `_p99_ms`, `_max_ms` and the count.
    func summarise(_ prefix: String, into result: inout ResultObject) {
        result.set("\(prefix)_count", values.count)
        result.set("\(prefix)_p50_ms", quantile(0.5))
        result.set("\(prefix)_p99_ms", quantile(0.99))
        result.set("\(prefix)_max_ms", quantile(1))
    }
}
