import JobsdAPI

extension JobEngine {
    /// The job as `job(_:)` would return it, when that needs no suspension: a job in memory as it
    /// is now, else the store's cached one (`JobStore.cachedJob`). nil means "not known
    /// without a query", not "no such job". Never blocks beyond two short locks; for callers that
    /// must not suspend (the HTTP event loop).
    public func cachedJob(_ id: String) -> Job? {
        if let job = state.lock.withLock({ state.live[id]?.currentJob }) { return job }
        return store.cachedJob(id)
    }

    /// `job(_:)` for a job `cachedJob` did not know, for callers that must not suspend: read from
    /// the store (`JobStore.readJob`: on SQLite's reader thread, without a Task) and answered
    /// through `reply`, which must not block.
    public func readStoredJob(_ id: String, reply: @escaping @Sendable (Result<Job?, EngineError>) -> Void) {
        store.readJob(id) { result in reply(result.map { $0?.job }.mapError { .storeUnavailable("\($0)") }) }
    }
}
