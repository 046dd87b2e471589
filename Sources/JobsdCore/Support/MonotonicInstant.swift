import Dispatch

/// A point on the monotonic clock (`CLOCK_MONOTONIC`, nanoseconds): what the duration histograms
/// measure with, so that a wall-clock step or the millisecond resolution of `Timestamp` never
/// distorts a duration.
struct MonotonicInstant: Sendable, Comparable {
    let nanoseconds: UInt64

    static func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: DispatchTime.now().uptimeNanoseconds) }

    /// Seconds from `self` to `later` (0 when `later` is not later).
    func seconds(until later: MonotonicInstant) -> Double {
        later.nanoseconds > nanoseconds ? Double(later.nanoseconds - nanoseconds) / 1e9 : 0
    }

    static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
