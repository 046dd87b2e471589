import ArgumentParser
import Glibc

/// `jobsd-loadgen`: the load generator for the measures wrk cannot express. Every measure is a
/// subcommand that prints one JSON object on stdout (`{"error": …}` and exit 1 when it could not
/// run). All load goes to one jobsd on 127.0.0.1, bounded in time and in count.
@main
struct LoadGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobsd-loadgen",
        abstract: "Load generator for Benchmarks/run.sh (raw sockets, keep-alive, one thread per client).",
        subcommands: [
            Throughput.self, Overload.self, StartLatency.self, CancelLatency.self, IdleConnections.self,
            RunningJobs.self, SubmitRate.self, TimelineCost.self, FillStore.self, Backlog.self, LatencyProbe.self, FreePort.self,
            Report.self,
        ])
}

/// Where the jobsd under test listens.
struct ServerOptions: ParsableArguments {
    @Option(help: "jobsd's IPv4 address") var host = "127.0.0.1"
    @Option(help: "jobsd's port") var port: UInt16
}

/// A subcommand that measures something and prints the result as one JSON object.
protocol Measure: ParsableCommand {
    func measure() throws -> ResultObject
}

extension Measure {
    func run() throws {
        do {
            var result = try measure()
            result.set("loadgen_cpu_seconds", Self.cpuSeconds())  // to see that the load generator was not the bottleneck
            result.emit()
        } catch {
            emitFailure(error)
            throw ExitCode(1)
        }
    }
}

extension Measure {
    /// User + system CPU time this process has used so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// Counts kept by one load thread, merged after the threads end.
struct Tally: Sendable {
    var done = 0
    var good = 0
    var rejected = 0
    var otherStatus = 0
    var errors = 0
    var firstError: String?
    var ids: [String] = []
    var latencies = Samples()

    mutating func fail(_ error: any Error) {
        errors += 1
        if firstError == nil { firstError = "\(error)" }
    }

    static func merged(_ tallies: [Tally]) -> Tally {
        tallies.reduce(into: Tally()) { sum, t in
            sum.done += t.done
            sum.good += t.good
            sum.rejected += t.rejected
            sum.otherStatus += t.otherStatus
            sum.errors += t.errors
            sum.firstError = sum.firstError ?? t.firstError
            sum.ids += t.ids
            sum.latencies.add(t.latencies)
        }
    }

    func record(errorsInto result: inout ResultObject) {
        result.set("errors", errors)
        if let firstError { result.set("first_error", firstError) }
    }
}
