import Dispatch

/// One Dispatch timer for the engine's scheduled jobs (`run_at`, `delay_seconds`, retry
/// backoffs), always armed for the earliest of them on the monotonic clock: no polling, and no
/// timer per job. Its handler runs on a private serial queue.
///
/// Thread-safe: `arm` is called under the engine's lock, so arms are applied in order.
final class ScheduleTimer: @unchecked Sendable {
    private let queue = DispatchQueue(label: "jobsd.engine.schedule")
    private let source: any DispatchSourceTimer
    /// The uptime it is armed for; guarded by the engine's lock (only `arm` touches it).
    private var armedAt: UInt64?

    init() {
        source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .distantFuture)
        source.activate()
    }

    deinit { source.cancel() }

    /// Sets what runs when the timer fires (once, before the first `arm`).
    func onFire(_ handler: @escaping @Sendable () -> Void) {
        source.setEventHandler(handler: handler)
    }

    /// Arms the timer for `uptime` (DispatchTime nanoseconds); nil disarms it. Caller holds the
    /// engine's lock.
    func arm(at uptime: UInt64?) {
        guard uptime != armedAt else { return }
        armedAt = uptime
        source.schedule(deadline: uptime.map { DispatchTime(uptimeNanoseconds: $0) } ?? .distantFuture, leeway: .milliseconds(1))
    }

    /// The timer fired: the next `arm` re-arms it even for the same time. Caller holds the lock.
    func fired() { armedAt = nil }
}
