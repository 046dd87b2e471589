import Glibc

/// glibc's `malloc_trim(0)`, which the Glibc module does not export: resolved once with dlsym.
/// It returns the free pages of every malloc arena to the system (`madvise`), so that a burst's
/// freed heap (a drained backlog of queued jobs) leaves the process's RSS, not only its live set.
/// nil on a C library without it (musl): trimming is then a no-op.
enum HeapTrim {
    private static let trim: (@convention(c) (Int) -> Int32)? = dlsym(nil, "malloc_trim").map {
        unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self)
    }

    /// Gives free heap pages back to the system; true when some were. Takes a few milliseconds
    /// on a large heap, holding each arena's lock in turn: call it when idle.
    @discardableResult
    static func now() -> Bool { (trim?(0) ?? 0) == 1 }
}
