import JobsdAPI

extension SQLiteJobStore {
    /// The job from `SQLiteRecordCache` (committed state, like `get`), without a query or a
    /// suspension; nil on a miss or once the store is closed. Only the job is copied out of the
    /// cached record (this answers every `GET /v1/jobs/{id}` of a finished job).
    public func cachedJob(_ id: String) -> Job? {
        cache.box(id)?.record.job
    }

    /// Empties `SQLiteRecordCache` (`JobStore.dropCaches`).
    public func dropCaches() { cache.dropAll() }
}
