import CoreMetrics
import JobsdAPI
import JobsdMetrics

/// The engine's series, emitted through the swift-metrics API on the factory the engine was given
/// (names, help texts and buckets: `MetricFamily`). Durations are recorded in nanoseconds of the
/// monotonic clock (`MonotonicInstant`), so a sub-millisecond cancel still adds to the sums.
struct EngineMetrics: Sendable {
    let jobs: [JobState: Meter]
    let submitted: Counter
    let finished: [JobState: Counter]
    let duration: CoreMetrics.Timer
    let queueWait: CoreMetrics.Timer
    let cancelLatency: CoreMetrics.Timer
    let escapedKilled: Counter
    let abandoned: Counter
    let leaseRenewals: Counter
    let rescued: Counter
    let oomKilled: Counter
    let cpuLimitStopped: Counter

    init(_ factory: any MetricsFactory) {
        var jobs: [JobState: Meter] = [:]
        var finished: [JobState: Counter] = [:]
        for state in JobState.allCases {
            jobs[state] = Meter(label: MetricFamily.jobs.name, dimensions: [("state", state.rawValue)], factory: factory)
        }
        for state in JobState.allCases where state.isTerminal {
            finished[state] = Counter(label: MetricFamily.jobsFinished.name, dimensions: [("state", state.rawValue)], factory: factory)
        }
        self.jobs = jobs
        self.finished = finished
        submitted = Counter(label: MetricFamily.jobsSubmitted.name, factory: factory)
        duration = CoreMetrics.Timer(label: MetricFamily.jobDuration.name, factory: factory)
        queueWait = CoreMetrics.Timer(label: MetricFamily.jobQueueWait.name, factory: factory)
        cancelLatency = CoreMetrics.Timer(label: MetricFamily.cancelLatency.name, factory: factory)
        escapedKilled = Counter(label: MetricFamily.escapedProcessesKilled.name, factory: factory)
        abandoned = Counter(label: MetricFamily.abandonedTasks.name, factory: factory)
        leaseRenewals = Counter(label: MetricFamily.leaseRenewals.name, factory: factory)
        rescued = Counter(label: MetricFamily.jobsRescued.name, factory: factory)
        oomKilled = Counter(label: MetricFamily.jobsOOMKilled.name, factory: factory)
        cpuLimitStopped = Counter(label: MetricFamily.jobsCPULimitStopped.name, factory: factory)
    }

    /// A job moved from `old` (nil: new) to `new` (nil: forgotten).
    func moved(from old: JobState?, to new: JobState?) {
        if let old { jobs[old]?.decrement() }
        if let new { jobs[new]?.increment() }
    }
}
