import JobsdCore
import Testing
@testable import JobsdWebhooks

/// How idle webhook workers are woken: one wake-up (one terminal change) resumes one idle worker,
/// not all of them; a wake-up that finds none idle is kept for the next; cancellation ends an idle
/// wait.
@Suite struct WebhookWakeUpsTests {
    /// Returns once `condition` holds (it is state the workers reach on their own: the readiness
    /// signal); fails after 30 s.
    private func until(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw WakeUpFailure(what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func oneWakeUp_ResumesOneIdleWorker_AndOneThatFindsNoneIdle_IsKeptForTheNext() async throws {
        let wakeUps = WebhookWakeUps(feed: ChangeFeed(), workers: 4)
        let (woken, resumed) = AsyncStream.makeStream(of: Int.self)
        var next = woken.makeAsyncIterator()
        let workers = (0..<3).map { index in
            Task {
                await wakeUps.idle(atMost: 600)
                resumed.yield(index)
            }
        }
        try await until("three workers idle") { wakeUps.idleWorkers == 3 }
        wakeUps.wake(1)
        _ = await next.next()
        #expect(wakeUps.idleWorkers == 2, "one wake-up resumed one worker")
        wakeUps.wake(1)
        _ = await next.next()
        #expect(wakeUps.idleWorkers == 1)

        // Two wake-ups, one idle worker: the second is kept, and the next worker to go idle
        // returns at once instead of waiting out its 120 s.
        wakeUps.wake(2)
        _ = await next.next()
        #expect(wakeUps.idleWorkers == 0)
        let started = ContinuousClock.now
        await wakeUps.idle(atMost: 120)
        #expect(started.duration(to: .now) < .seconds(60), "the kept wake-up was used")
        for worker in workers { await worker.value }

        // A cancelled worker stops idling.
        let cancelled = Task { await wakeUps.idle(atMost: 600) }
        try await until("a worker idle") { wakeUps.idleWorkers == 1 }
        cancelled.cancel()
        await cancelled.value
        #expect(wakeUps.idleWorkers == 0)
    }
}

private struct WakeUpFailure: Error, CustomStringConvertible {
    let description: String
    init(_ what: String) { description = "\(what) did not happen within 30 s" }
}
