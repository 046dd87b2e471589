import CProcessSupport
import Glibc

/// How a child process ended: the raw `waitpid` status, decoded.
public struct ExitStatus: Sendable, Equatable, CustomStringConvertible {
    public var raw: Int32

    public init(raw: Int32) { self.raw = raw }

    /// The exit code when the process exited by itself.
    public var exitCode: Int32? { jobsd_wifexited(raw) != 0 ? jobsd_wexitstatus(raw) : nil }
    /// The signal number that killed it.
    public var signal: Int32? { jobsd_wifsignaled(raw) != 0 ? jobsd_wtermsig(raw) : nil }
    /// `"SIGKILL"` etc. for `signal`.
    public var signalName: String? { signal.map(Self.name(ofSignal:)) }

    public var description: String {
        if let exitCode { return "exit \(exitCode)" }
        return signalName ?? "status \(raw)"
    }

    static func name(ofSignal number: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
            SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
            SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
            SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP", SIGTTIN: "SIGTTIN",
            SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM",
            SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
        ]
        return names[number] ?? "SIG\(number)"
    }
}
