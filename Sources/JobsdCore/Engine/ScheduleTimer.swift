import Dispatch
import Foundation
import JobsdAPI

/// One Dispatch timer, re-armed for the next thing due: no polling, and no timer per item. Its
/// handler runs on a private serial queue. The engine arms one for its scheduled jobs (`run_at`,
/// `delay_seconds`, retry backoffs) on the monotonic clock (`arm(at:)`); `ScheduleRunner` arms
/// one for the schedules' ticks on the wall clock (`arm(atWall:)`, `CLOCK_REALTIME`: a step of
/// the clock moves the deadline with it).
///
/// Thread-safe: `arm(at:)` is called under the engine's lock, so arms are applied in order;
/// `arm(atWall:)` by one schedule pass at a time.
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

    /// Arms the timer for the wall-clock time `time` (at once, if it has passed); nil disarms it.
    func arm(atWall time: Timestamp?) {
        guard let time else {
            source.schedule(wallDeadline: .distantFuture)
            return
        }
        let ms = max(time.milliseconds, 0)
        source.schedule(
            wallDeadline: DispatchWallTime(timespec: timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)),
            leeway: .milliseconds(5))
    }
}
