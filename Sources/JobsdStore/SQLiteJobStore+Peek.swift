extension SQLiteJobStore {
    /// The record from `SQLiteRecordCache` (committed state, like `get`), without a query or a
    /// suspension; nil on a miss or once the store is closed.
    public func cachedRecord(_ id: String) -> JobRecord? {
        guard case let .hit(record) = try? cache.lookup(id) else { return nil }
        return record
    }
}
