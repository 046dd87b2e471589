import Glibc

/// One cgroup v2 directory holding every process of one job (or of one job's cleanup command):
/// whatever a process does to its environment, session, process group or parentage, it stays in
/// here, and so do its children. The main process is spawned straight into it
/// (`clone3(CLONE_INTO_CGROUP)` through `fd`).
///
/// - `members()` lists the live processes (zombies are not listed), `isPopulated` reads
///   `cgroup.events` (`populated 0`: every process of the tree has exited), `kill()` writes
///   `cgroup.kill` (SIGKILL to all, atomically with respect to forks).
/// - `remove()` closes the fd and removes the directory once it is empty (at the job's terminal
///   state, or at recovery); an `rmdir` of a cgroup with processes fails (EBUSY) and is retried
///   by the next start's sweep.
///
/// Not thread-safe for `remove()` against the other calls: its owner (the job's supervision)
/// removes it after the ladder is done.
final class JobCgroup: @unchecked Sendable {
    let path: String
    /// The directory, open for `clone3(CLONE_INTO_CGROUP)`; -1 once closed.
    private(set) var fd: Int32

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The pids listed in `cgroup.procs` (live processes only).
    func members() -> [pid_t] {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1 << 16) { buffer in
            let n = ProcessTable.readFile(path + "/cgroup.procs", into: UnsafeMutableRawBufferPointer(buffer))
            var pids: [pid_t] = []
            var value: pid_t = 0
            for i in 0..<n {
                let b = buffer[i]
                if b >= 48, b <= 57 {
                    value = value &* 10 &+ pid_t(b - 48)
                } else if value > 0 {
                    pids.append(value)
                    value = 0
                }
            }
            if value > 0 { pids.append(value) }
            return pids
        }
    }

    /// False once every process of the cgroup has exited (`populated 0` in `cgroup.events`);
    /// also false when the cgroup is gone or unreadable.
    var isPopulated: Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { buffer in
            let n = ProcessTable.readFile(path + "/cgroup.events", into: UnsafeMutableRawBufferPointer(buffer))
            let key = Array("populated ".utf8)
            var i = 0
            while i + key.count < n {
                if (0..<key.count).allSatisfy({ buffer[i + $0] == key[$0] }) { return buffer[i + key.count] == UInt8(ascii: "1") }
                while i < n, buffer[i] != UInt8(ascii: "\n") { i += 1 }
                i += 1
            }
            return false
        }
    }

    /// SIGKILL to every process in the cgroup (and in cgroups below it), by the kernel.
    func kill() {
        _ = CgroupTree.writeFile(path + "/cgroup.kill", "1")
    }

    /// Closes the fd and removes the directory; false when it could not (still populated, or
    /// already gone: then true).
    @discardableResult
    func remove() -> Bool {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
        return rmdir(path) == 0 || errno == ENOENT
    }
}
