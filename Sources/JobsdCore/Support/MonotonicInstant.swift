import Dispatch

/// A point on the monotonic clock (`CLOCK_MONOTONIC`, nanoseconds): what the duration histograms
/// measure with, so that a wall-clock step or the millisecond resolution of `Timestamp` never
/// distorts a duration.
struct MonotonicInstant: Sendable, Comparable {
    let nanoseconds: UInt64

    static func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: DispatchTime.now().uptimeNanoseconds) }

    /// Nanoseconds from `self` to `later` (0 when `later` is not later): what the duration
    /// histograms record (`Timer.recordNanoseconds`).
    func nanoseconds(until later: MonotonicInstant) -> Int64 {
        later.nanoseconds > nanoseconds ? Int64(clamping: later.nanoseconds - nanoseconds) : 0
    }

    static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
