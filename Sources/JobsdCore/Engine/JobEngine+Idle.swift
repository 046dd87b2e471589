extension JobEngine {
    // MARK: - Idle

    /// Each time the engine goes idle (no job queued, running or recovering, no submission in
    /// flight) after work and stays idle for `idleTrimDelay` seconds, drops the store's read cache
    /// (`JobStore.dropCaches`) and the job table's storage and hands freed heap back to the system
    /// (`HeapTrim`): a drained backlog of 100 000 queued jobs otherwise keeps its pages for good
    /// (issue 21) — the cached records of the burst's last jobs alone pin tens of megabytes,
    /// one record per page. Under steady load the engine is rarely idle that long, so this costs
    /// nothing there. Returns at shutdown.
    func trimHeapWhenIdle() async {
        while true {
            // Work arrived (or shutdown began).
            await changes.wait(timeout: nil, cancellable: false) { [self] in state.lock.withLock { state.shuttingDown || !isIdle } }
            // It is done.
            await changes.wait(timeout: nil, cancellable: false) { [self] in state.lock.withLock { state.shuttingDown || isIdle } }
            // And nothing came for a while.
            let interrupted = await changes.wait(timeout: configuration.idleTrimDelay, cancellable: false) { [self] in
                state.lock.withLock { state.shuttingDown || !isIdle }
            }
            if state.lock.withLock({ state.shuttingDown }) { return }
            if !interrupted {
                // The read cache and the job table's storage, sized by the burst, go first: the
                // trim can release only pages that nothing live is left on.
                store.dropCaches()
                state.lock.withLock { if isIdle { state.live = [:] } }
                let released = HeapTrim.now()
                logger.info("heap trimmed", metadata: ["released": "\(released)"])
            }
        }
    }

    /// No job in memory and no submission in flight. Caller holds the engine lock.
    private var isIdle: Bool { state.live.isEmpty && state.reserved == 0 }
}
