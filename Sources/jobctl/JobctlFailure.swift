import JobsdClient

/// A failure jobctl reports as `jobctl: <message>` on stderr, exiting with `status`.
struct JobctlFailure: Error {
    var message: String
    var status: Int32

    /// Exit 2 when the server could not be reached, 1 when it answered an error.
    init(_ error: ClientError, server: String) {
        switch error {
        case let .connection(text):
            self.init(message: "cannot connect to \(server): \(text)", status: 2)
        case .cancelled:
            self.init(message: "interrupted", status: 130)
        case .problem, .unexpected, .decoding:
            self.init(message: error.description, status: 1)
        }
    }

    init(message: String, status: Int32) {
        self.message = message
        self.status = status
    }
}
