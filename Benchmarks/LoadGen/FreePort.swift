import ArgumentParser
import Glibc

/// Prints a TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close),
/// so run.sh can start jobsd at --log-level warning and still know where it listens.
struct FreePort: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a free TCP port on 127.0.0.1.")

    func run() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoadError(errno: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw LoadError(errno: "bind") }
        print(UInt16(bigEndian: address.sin_port))
    }
}
