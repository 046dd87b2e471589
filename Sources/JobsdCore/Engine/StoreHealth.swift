import CoreMetrics
import Dispatch
import JobsdMetrics
import Logging

/// Whether the store takes writes (issue #22: "say it while it lasts"). A store fault begins with
/// the first write the store refuses (disk full, I/O error, a lost PostgreSQL connection) and
/// ends with the next write it accepts; one log line marks each end, not one per retry. While it
/// lasts `/readyz` answers 503 naming it.
///
/// Also counts refused writes (`jobsd_store_write_errors_total`) and the writes waiting to be
/// retried (`jobsd_store_writes_pending`: outcomes, cleanup results and records that happened
/// but are not durable yet).
///
/// Thread-safe: `fault`, `since` and `pending` are guarded by `lock`. `cleared` is broadcast
/// (outside the lock) when a fault ends, so that every retry waiting out its backoff tries again
/// at once; `onChange` is called (outside the lock) when a fault begins or ends, and when the last
/// waiting write leaves a fault that lasts.
final class StoreHealth: @unchecked Sendable {
    private let lock = PThreadLock()
    private var fault: String?  // guarded by `lock`
    private var since: DispatchTime?  // guarded by `lock`
    private var pending = 0  // guarded by `lock`
    private let logger: Logger
    private let errors: Counter
    private let pendingGauge: Meter
    private let onChange: @Sendable () -> Void
    /// Broadcast when a fault ends.
    let cleared = AsyncCondition()

    init(metrics: any MetricsFactory, logger: Logger, onChange: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.onChange = onChange
        errors = Counter(label: MetricFamily.storeWriteErrors.name, factory: metrics)
        pendingGauge = Meter(label: MetricFamily.storeWritesPending.name, factory: metrics)
    }

    /// The store fault in force (the first refused write's error), or nil.
    var currentFault: String? { lock.withLock { fault } }

    /// True while no fault is in force (read by `cleared`'s waiters).
    var isHealthy: Bool { lock.withLock { fault == nil } }

    /// True while a fault is in force and no refused write waits to be retried (those retries
    /// are the probes of the store otherwise).
    var needsProbe: Bool { lock.withLock { fault != nil && pending == 0 } }

    /// Records a write the store refused; logs once when this starts a fault.
    func refused(_ error: any Error, writing what: String) {
        errors.increment()
        let started: Bool = lock.withLock {
            guard fault == nil else { return false }
            fault = "\(error)"
            since = .now()
            return true
        }
        if started {
            logger.error("store fault: writes are failing; outcomes are kept and retried", metadata: [
                "store.error": "\(error)", "store.write": "\(what)",
            ])
            onChange()
        }
    }

    /// Records a write the store accepted; logs once and wakes every waiting retry when this ends
    /// a fault.
    func accepted() {
        let ended: (String, DispatchTime)? = lock.withLock {
            guard let fault, let since else { return nil }
            self.fault = nil
            self.since = nil
            return (fault, since)
        }
        guard let (fault, since) = ended else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - since.uptimeNanoseconds) / 1e9
        logger.notice("store fault ended: writes succeed again", metadata: [
            "store.error": "\(fault)", "store.fault_seconds": "\(seconds)", "store.pending": "\(lock.withLock { pending })",
        ])
        cleared.broadcast()
        onChange()
    }

    /// A write failed and will be retried (`delta` 1), or such a write is stored now (-1).
    /// Calls `onChange` when this leaves a fault with nothing waiting (see `needsProbe`).
    func pendingChanged(by delta: Int) {
        let unprobed: Bool = lock.withLock {
            pending += delta
            pendingGauge.set(pending)
            return pending == 0 && fault != nil
        }
        if unprobed { onChange() }
    }

    /// Suspends until a fault ends or `seconds` pass; not cancellable (a retry runs to its end).
    func waitForRecovery(atMost seconds: Double) async {
        await cleared.wait(timeout: seconds, cancellable: false) { [self] in isHealthy }
    }
}
