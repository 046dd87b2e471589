import Foundation

/// A small tmpfs mounted on a fresh temporary directory, for tests that fill a disk (issue #22's
/// fault suite). Needs root (CAP_SYS_ADMIN), as CI runs: without it `with` throws, naming the
/// cause, so the test fails instead of skipping. Always unmounted (lazily, `MNT_DETACH`) and its
/// directory removed, on success and on failure.
public struct TmpfsMount: Sendable {
    public let path: String

    /// Mounts a tmpfs of `megabytes` MiB, runs `body`, unmounts.
    public static func with<T: Sendable>(megabytes: Int, _ body: (TmpfsMount) async throws -> T) async throws -> T {
        let path = try TemporaryDirectory.make(prefix: "jobsd-tmpfs")
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(megabytes)m,mode=0755") == 0 else {
            let reason = String(cString: strerror(errno))
            throw TestHarnessError("cannot mount a tmpfs on \(path) (\(reason)): the fault tests need root, as CI runs them")
        }
        defer { umount2(path, Int32(MNT_DETACH)) }
        return try await body(TmpfsMount(path: path))
    }

    /// Writes zeros to `name` in the mount until the file system is full (ENOSPC); returns the file's
    /// path. Remove it to give the space back.
    @discardableResult
    public func fill(_ name: String = "filler") throws -> String {
        let file = path + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestHarnessError("cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = block.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n > 0 { continue }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno != ENOSPC { throw TestHarnessError("filling \(file): \(String(cString: strerror(errno)))") }
            break
        }
        // Also the last partial block the loop above could not place.
        var byte: UInt8 = 0
        while write(fd, &byte, 1) == 1 {}
        return file
    }

    /// Removes a file made by `fill`: the space is back.
    public func free(_ file: String) throws {
        try FileManager.default.removeItem(atPath: file)
    }
}
