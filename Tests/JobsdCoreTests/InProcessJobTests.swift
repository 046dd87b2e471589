import Foundation
import JobsdAPI
@testable import JobsdCore
import Testing

extension EngineTests {
    @Test func inProcessJob_RunsTheClosure_WithItsOutputAndCleanupHooks() async throws {
        try await EngineHarness.with { h in
            let hookRan = HookFlag()
            h.engine.register("greet") { ctx in
                ctx.onCleanup { hookRan.set() }
                ctx.write("hello \(ctx.arguments.joined(separator: " "))\n")
            }
            let job = try await h.submit(JobSpec(command: ["greet", "world"]))
            let done = try await h.terminal(job.id)
            #expect(done.state == .succeeded)
            #expect(try await h.output(job.id) == "hello world\n")
            #expect(hookRan.value)
        }
    }

    @Test func inProcessJob_ThatIgnoresCancellation_IsReportedCancelled_AndCountedAbandoned() async throws {
        try await EngineHarness.with { h in
            let started = HookFlag()
            h.engine.register("stubborn") { _ in
                started.set()
                let end = Date().addingTimeInterval(3)
                while Date() < end { try? await Task.sleep(for: .milliseconds(10)) }
            }
            let job = try await h.submit(JobSpec(command: ["stubborn"], graceSeconds: 0.2))
            while !started.value { await AsyncCondition.sleep(0.01) }
            _ = try await h.engine.cancel(job.id)
            let done = try await h.terminal(job.id)
            #expect(done.state == .cancelled)
            #expect(h.counter("jobsd_abandoned_tasks_total") == 1)
        }
    }
}

/// A flag set from another task.
final class HookFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false  // guarded by `lock`
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}
