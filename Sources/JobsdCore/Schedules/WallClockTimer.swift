import Dispatch
import Foundation
import JobsdAPI

/// One Dispatch timer on the wall clock (`DispatchWallTime`, `CLOCK_REALTIME`): the schedules'
/// ticks are wall-clock times, so a step of the clock moves them, unlike the engine's
/// monotonic `ScheduleTimer`. Whoever it wakes compares the time with what it expected and
/// re-arms (`ScheduleRunner.pass`). Its handler runs on a private serial queue.
///
/// `@unchecked Sendable`: `source` is immutable and a Dispatch source may be re-scheduled from
/// any thread; `arm` is called by one pass at a time (`ScheduleRunner.run`).
final class WallClockTimer: @unchecked Sendable {
    private let source: any DispatchSourceTimer

    init() {
        source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "jobsd.schedules.timer"))
        source.schedule(wallDeadline: .distantFuture)
        source.activate()
    }

    deinit { source.cancel() }

    /// Sets what runs when the timer fires (once, before the first `arm`).
    func onFire(_ handler: @escaping @Sendable () -> Void) {
        source.setEventHandler(handler: handler)
    }

    /// Arms the timer for the wall-clock time `time` (now, if it has passed); nil disarms it.
    func arm(at time: Timestamp?) {
        guard let time else {
            source.schedule(wallDeadline: .distantFuture)
            return
        }
        let ms = max(time.milliseconds, 0)
        let deadline = DispatchWallTime(timespec: timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000))
        source.schedule(wallDeadline: deadline, leeway: .milliseconds(5))
    }
}
