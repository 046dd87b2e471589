import CoreMetrics
import Dispatch
import JobsdMetrics

/// A few `PostgresConnection`s, each owned by a serial queue of its own: `run` sends a piece of
/// work to the least busy one, so libpq's blocking calls never run on the Swift cooperative pool
/// and one transaction never shares its connection with another.
///
/// Cancellation: cancelling a caller does not withdraw its work once queued; it runs to its end.
/// A lost connection makes the work that hit it throw `unavailable`; the next work on that slot
/// reconnects. After `close()` every call throws `unavailable`.
final class PostgresPool: @unchecked Sendable {
    private final class Slot: @unchecked Sendable {
        let queue: DispatchQueue
        /// Used only on `queue`.
        let connection: PostgresConnection
        /// Work queued or running on this slot; guarded by the pool's `lock`.
        var pending = 0

        init(index: Int, url: String, roundTripTimer: CoreMetrics.Timer?, idleInTransactionLimit: Double?) {
            queue = DispatchQueue(label: "jobsd.store.postgres.\(index)")
            connection = PostgresConnection(url: url, roundTripTimer: roundTripTimer, idleInTransactionLimit: idleInTransactionLimit)
        }
    }

    /// Slots for ordinary work; `control` is one more, kept for the lease heartbeat so that it
    /// never queues behind a burst of requests (a late heartbeat gets a node's jobs rescued).
    private let slots: [Slot]
    private let control: Slot
    /// Guards `closed` and every slot's `pending`.
    private let lock = PThreadLock()
    private var closed = false

    /// `roundTripTimer` records every round trip of the pool's connections (nil: none recorded);
    /// `idleInTransactionLimit` bounds how long their transactions may sit idle (`PostgresConnection`).
    init(url: String, size: Int, roundTripTimer: CoreMetrics.Timer? = nil, idleInTransactionLimit: Double? = nil) {
        slots = (0..<max(1, size)).map {
            Slot(index: $0, url: url, roundTripTimer: roundTripTimer, idleInTransactionLimit: idleInTransactionLimit)
        }
        control = Slot(index: max(1, size), url: url, roundTripTimer: roundTripTimer, idleInTransactionLimit: idleInTransactionLimit)
    }

    /// Runs `work` on a connection (connected first) and returns its result. Errors of libpq
    /// become `JobStoreError.unavailable`; errors `work` throws itself pass unchanged.
    /// `idempotent` work (reads) that finds its connection lost (the server restarted, an
    /// administrator terminated it) runs once more on a new connection; other work throws, since
    /// the server may have committed it before the connection broke.
    /// `control` work (the heartbeat) runs on the pool's own extra connection.
    func run<T: Sendable>(
        idempotent: Bool = false, control: Bool = false, _ work: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let queued = enqueue(control: control) { connection in
                continuation.resume(with: Result {
                    do {
                        try connection.connectIfNeeded()
                        do {
                            return try work(connection)
                        } catch let error as PostgresError where error.connectionLost && idempotent {
                            return try work(connection)  // reconnects first
                        }
                    } catch let error as PostgresError {
                        throw error.storeError
                    }
                })
            }
            if !queued { continuation.resume(throwing: JobStoreError.unavailable("store is closed")) }
        }
    }

    /// Queues `work` on the least busy connection's queue without waiting for it (for callers
    /// that may neither block nor suspend, such as the output batches, which handle libpq's
    /// errors themselves); false when the pool is closed (then `work` never runs).
    @discardableResult
    func enqueue(control: Bool = false, _ work: @escaping @Sendable (PostgresConnection) -> Void) -> Bool {
        // Picking and queueing under the lock: no work lands on a slot after `close` queued its
        // closing block there.
        lock.withLock {
            guard !closed else { return false }
            let slot = control ? self.control : slots.min { $0.pending < $1.pending }!
            slot.pending += 1
            slot.queue.async {
                defer { self.lock.withLock { slot.pending -= 1 } }
                work(slot.connection)
            }
            return true
        }
    }

    /// Round trips made so far by every connection (read on each slot's queue).
    func roundTrips() async -> Int {
        var total = 0
        for slot in slots + [control] {
            total += await withCheckedContinuation { continuation in
                slot.queue.async { continuation.resume(returning: slot.connection.roundTrips) }
            }
        }
        return total
    }

    /// Refuses new work, lets the work already queued finish, then closes every connection.
    func close() async {
        lock.withLock { closed = true }  // `run` queues nothing more from here on
        for slot in slots + [control] {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                slot.queue.async {
                    slot.connection.close()
                    continuation.resume()
                }
            }
        }
    }
}
