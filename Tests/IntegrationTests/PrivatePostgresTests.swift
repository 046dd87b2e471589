import Foundation
import JobsdTesting
import Testing

/// The tests' private PostgreSQL servers do not outlive a test run killed from outside: the next
/// `PrivatePostgres.start` stops and deletes those whose owner is gone, and only those.
@Suite struct PrivatePostgresTests {
    @Test func aServerWhoseOwnerIsGone_IsStoppedAndDeletedAtTheNextStart_AndOnesInUseRunOn() async throws {
        // Whatever a failure here leaves is the next start's to sweep: the rule under test.
        let kept = try await PrivatePostgres.start()
        let left = try await PrivatePostgres.start()
        let postmaster = try #require(left.postmaster, "the server of the one left runs with a postmaster.pid")
        left.abandon()  // as if its test process had been killed

        let next = try await PrivatePostgres.start()  // sweeps first
        #expect(left.isRemoved)
        try await eventually("the postmaster \(postmaster) of the one left exiting") { isGone(postmaster) }
        // Those in use are untouched and run on.
        for server in [kept, next] {
            #expect(!server.isRemoved)
            #expect(server.postmaster.map { !isGone($0) } == true)
            await server.remove()
        }
    }
}

/// Whether process `pid` has exited (gone, or a zombie not yet reaped).
private func isGone(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return true }
    return ["Z", "X"].contains(stat[stat.index(close, offsetBy: 2)])
}
