import Glibc

/// The signals a `SignalLadder` sent, for the job's timeline (`signal_sent`): each signal once per
/// target (the process group; escaped descendants, counted by distinct pid).
struct SignalRecord: Sendable {
    struct Sent: Sendable, Equatable {
        var signal: Int32
        /// `group` or `escaped`.
        var target: String
        /// Processes it reached (for the group: its members seen alive, at least 1).
        var pids: Int
        var time: EventTime
    }

    private(set) var sent: [Sent] = []
    private var escapedBySignal: [Int32: Set<Int32>] = [:]
    private var groupSignals: Set<Int32> = []

    /// Records `signal` sent to the process group (`members` of it seen alive), once per signal.
    mutating func group(_ signal: Int32, members: Int, time: EventTime = .now()) {
        guard groupSignals.insert(signal).inserted else { return }
        sent.append(Sent(signal: signal, target: "group", pids: max(1, members), time: time))
    }

    /// Records `signal` sent to the escaped `pids`; only pids not recorded with it before count.
    mutating func escaped(_ signal: Int32, pids: [Int32]) {
        var known = escapedBySignal[signal, default: []]
        let new = pids.filter { known.insert($0).inserted }
        escapedBySignal[signal] = known
        if !new.isEmpty { sent.append(Sent(signal: signal, target: "escaped", pids: new.count, time: .now())) }
    }
}
