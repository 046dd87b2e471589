import Glibc

/// The signals a `SignalLadder` sent, for the job's timeline (`signal_sent`): each signal once per
/// target (the main process's group; escaped descendants outside it).
struct SignalRecord: Sendable {
    struct Sent: Sendable, Equatable {
        var signal: Int32
        /// `group` or `escaped`.
        var target: String
        /// Processes of the job alive when it was sent (at least 1).
        var pids: Int
        var time: EventTime
    }

    private(set) var sent: [Sent] = []

    /// Records `signal` sent to the main process's group, reaching `members` processes, once per
    /// signal.
    mutating func group(_ signal: Int32, members: Int, time: EventTime = .now()) {
        guard !sent.contains(where: { $0.signal == signal && $0.target == "group" }) else { return }
        sent.append(Sent(signal: signal, target: "group", pids: max(1, members), time: time))
    }

    /// Records `signal` sent to `count` escaped descendants (nothing when none).
    mutating func escaped(_ signal: Int32, count: Int, time: EventTime = .now()) {
        guard count > 0 else { return }
        sent.append(Sent(signal: signal, target: "escaped", pids: count, time: time))
    }
}
