import Dispatch
import Glibc
import JobsdMetrics

/// Wakes whoever waits for a job's cgroup to empty when its `cgroup.events` changes (the kernel
/// rewrites it at `populated 0`, when the last process of the cgroup and of the cgroups below it
/// exited): one inotify descriptor (IN_MODIFY) for all of jobsd's cgroups, read by a Dispatch
/// source, so no thread of our own and no descriptor per job.
///
/// The kernel delivers these notifications through a workqueue, and at most one per file every
/// 10 ms (`CGROUP_FILE_NOTIFY_MIN_INTV`: a change within 10 ms of the previous notification, such
/// as a job's last process exiting less than 10 ms after its first one entered, is delivered
/// when that interval ends). So a notification only says "read `cgroup.events` again"; the
/// waiter (`SignalLadder`) reads the file itself and keeps a bounded poll of its own, so a late
/// or missed notification can delay a job but never hang it.
///
/// Thread-safe: `observers` and `nextToken` are guarded by `lock` (watches are added and removed
/// under it too); the source's handler runs on its own serial queue and calls the observers
/// outside the lock.
final class CgroupEvents: @unchecked Sendable {
    /// nil when inotify is not available (then waiters poll).
    static let shared: CgroupEvents? = CgroupEvents()

    /// One observer of one cgroup, until `end`.
    struct Observation: Sendable {
        fileprivate let watch: Int32
        fileprivate let token: UInt64
    }

    private let fd: Int32
    private let source: any DispatchSourceRead
    private let lock = PThreadLock()
    /// By inotify watch descriptor (one per `cgroup.events` file), then by observation.
    private var observers: [Int32: [UInt64: @Sendable () -> Void]] = [:]
    private var nextToken: UInt64 = 0

    private init?() {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "jobsd.cgroup-events"))
        source.setEventHandler { [unowned self] in drain() }
        source.activate()
    }

    /// Calls `onChange` (on the source's queue) after each change of `<cgroup>/cgroup.events`
    /// until `end`; nil when the file cannot be watched (gone, or no inotify watch left:
    /// `fs.inotify.max_user_watches`).
    func observe(_ cgroup: String, onChange: @escaping @Sendable () -> Void) -> Observation? {
        lock.withLock { () -> Observation? in
            let watch = inotify_add_watch(fd, cgroup + "/cgroup.events", UInt32(IN_MODIFY))
            guard watch >= 0 else { return nil }
            nextToken &+= 1
            observers[watch, default: [:]][nextToken] = onChange
            return Observation(watch: watch, token: nextToken)
        }
    }

    /// Stops calling the observer; the file's watch goes with its last observer.
    func end(_ observation: Observation) {
        lock.withLock {
            guard var byToken = observers[observation.watch], byToken.removeValue(forKey: observation.token) != nil else { return }
            if byToken.isEmpty {
                observers[observation.watch] = nil
                inotify_rm_watch(fd, observation.watch)
            } else {
                observers[observation.watch] = byToken
            }
        }
    }

    /// Reads every queued event and calls the observers of the files they name. IN_IGNORED (the
    /// cgroup was removed) wakes them too, and forgets the watch; IN_Q_OVERFLOW (events were
    /// lost) wakes every observer.
    private func drain() {
        var woken: [@Sendable () -> Void] = []
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                guard n > 0 else { return }
                let raw = UnsafeRawBufferPointer(buffer)
                var at = 0
                while at + MemoryLayout<inotify_event>.size <= n {
                    let watch = raw.loadUnaligned(fromByteOffset: at, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)
                    let nameLength = raw.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self)
                    at += MemoryLayout<inotify_event>.size + Int(nameLength)
                    lock.withLock {
                        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                            for found in observers.values { woken.append(contentsOf: found.values) }
                        } else if let found = observers[watch] {
                            woken.append(contentsOf: found.values)
                        }
                        if mask & UInt32(IN_IGNORED) != 0 { observers[watch] = nil }
                    }
                }
            }
        }
        for onChange in woken { onChange() }
    }
}
