import JobsdAPI

/// An attempt to move a job along an edge that CONTRACT.md's state machine does not have.
struct IllegalTransition: Error, CustomStringConvertible {
    var from: JobState
    var to: JobState
    var description: String { "illegal job state transition \(from.rawValue) → \(to.rawValue)" }
}

extension JobState {
    /// The one place the state machine lives:
    /// `queued → running | cancelled`, `running → cancelling | succeeded | failed | timed_out`,
    /// `cancelling → cancelled`. Terminal states have no way out.
    func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.queued, .running), (.queued, .cancelled): true
        case (.running, .cancelling), (.running, .succeeded), (.running, .failed), (.running, .timedOut): true
        case (.cancelling, .cancelled): true
        default: false
        }
    }
}

extension Job {
    /// Moves the job to `next`, or throws and leaves it unchanged when the edge does not exist.
    mutating func move(to next: JobState) throws(IllegalTransition) {
        guard state.canMove(to: next) else { throw IllegalTransition(from: state, to: next) }
        state = next
    }
}
