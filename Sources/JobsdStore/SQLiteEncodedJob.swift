import JobsdAPI

/// A `JobRecord` with its JSON columns written (labels, command, spec), ready to bind to
/// `SQLiteJobRows.insertSQL` or `updateSQL`. Callers encode on their own task, so the single
/// writer thread only binds and steps. A class, so that queueing and batching a write copies one
/// reference, not the record.
final class SQLiteEncodedJob: Sendable {
    /// The record encoded, boxed for the record cache once it is committed.
    let boxed: SQLiteRecordCache.Box
    /// `jobs.labels`: keys sorted, so equal maps give equal text.
    let labelsJSON: String
    private let commandJSON: String
    private let specJSON: String
    /// Timeline events written with the row, each with its fields as JSON text.
    let events: [(event: JobEvent, fieldsJSON: String)]
    /// The job's wire JSON, for the change log when the write changes its state.
    let jobJSON: String
    /// The completion webhook this write enqueues if it is the job's first terminal one.
    let delivery: WebhookDelivery?
    private let orchestrationJSON: String?

    init(_ record: JobRecord, events: [JobEvent] = []) {
        boxed = SQLiteRecordCache.Box(record)
        self.events = events.map { ($0, $0.fieldsJSON) }
        jobJSON = record.job.json
        labelsJSON = StoredJob.labelsJSON(record.job.labels)
        commandJSON = StoredJob.commandJSON(record.job.command)
        specJSON = StoredJob.specJSON(record)
        delivery = WebhookDelivery.enqueued(by: record)
        orchestrationJSON = StoredOrchestration.json(record.job)
    }

    var id: String { boxed.record.job.id }
    var idempotencyKey: String? { boxed.record.idempotencyKey }
    var labels: [String: String] { boxed.record.job.labels }
    var createdAt: Timestamp { boxed.record.job.createdAt }

    /// Binds every column of `StoredJob.columns`, in that order, to ?1…?27 of `statement`
    /// (times in milliseconds), straight from the record: no intermediate array of values.
    func bind(to statement: SQLiteStatement) throws(SQLiteError) {
        let record = boxed.record
        let job = record.job
        try statement.bind(1, job.id)
        try statement.bind(2, job.state.rawValue)
        try statement.bind(3, job.name)
        try statement.bind(4, labelsJSON)
        try statement.bind(5, commandJSON)
        try statement.bind(6, job.createdAt.milliseconds)
        try statement.bind(7, job.startedAt?.milliseconds)
        try statement.bind(8, job.finishedAt?.milliseconds)
        try statement.bind(9, job.timeoutSeconds)
        try statement.bind(10, job.graceSeconds)
        try statement.bind(11, job.cancelRequestedAt?.milliseconds)
        try statement.bind(12, job.pid.map(Int64.init))
        try statement.bind(13, job.exitCode.map(Int64.init))
        try statement.bind(14, job.signal)
        try statement.bind(15, job.error)
        try statement.bind(16, job.cleanup.state.rawValue)
        try statement.bind(17, job.cleanup.exitCode.map(Int64.init))
        try statement.bind(18, job.cleanup.error)
        try statement.bind(19, job.logBytes)
        try statement.bind(20, specJSON)
        try statement.bind(21, record.idempotencyKey)
        try statement.bind(22, record.requestFingerprint)
        try statement.bind(23, record.processStartTicks.map { Int64(bitPattern: $0) })
        try statement.bind(24, record.owner)
        try statement.bind(25, job.groupID)
        try statement.bind(26, orchestrationJSON)
        try statement.bind(27, job.logDroppedBytes)
    }
}
