import JobsdAPI

/// When something happened, on both clocks: the wall clock for the timeline's `at`, the monotonic
/// clock to order events noted by different threads.
struct EventTime: Sendable, Equatable {
    let at: Timestamp
    let instant: MonotonicInstant

    static func now() -> EventTime { EventTime(at: .now(), instant: .now()) }
}
