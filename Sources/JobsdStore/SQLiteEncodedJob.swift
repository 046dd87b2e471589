import JobsdAPI

/// A value for one statement parameter.
enum SQLiteValue: Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }
    init(_ value: Int32?) { self = value.map { .integer(Int64($0)) } ?? .null }
    init(_ value: Timestamp?) { self = value.map { .integer($0.milliseconds) } ?? .null }
}

/// A `JobRecord` turned into the values of `SQLiteJobRows.columns` (JSON written, times in
/// milliseconds). Callers encode on their own task, so the single writer thread only binds and
/// steps. A class, so that queueing and batching a write copies one reference, not the record.
final class SQLiteEncodedJob: Sendable {
    /// The record encoded, for the record cache once it is committed.
    let record: JobRecord
    let id: String
    let idempotencyKey: String?
    let labels: [String: String]
    /// `jobs.labels`: keys sorted, so equal maps give equal text.
    let labelsJSON: String
    /// One value per column of `SQLiteJobRows.columns`, in that order.
    let values: [SQLiteValue]

    init(_ record: JobRecord) {
        self.record = record
        let job = record.job
        id = job.id
        idempotencyKey = record.idempotencyKey
        labels = job.labels
        labelsJSON = Self.labelsJSON(job.labels)
        var command = JSONWriter()
        command.stringArray(job.command)
        values = [
            .text(job.id), .text(job.state.rawValue), SQLiteValue(job.name), .text(labelsJSON), .text(command.text),
            SQLiteValue(job.createdAt), SQLiteValue(job.startedAt), SQLiteValue(job.finishedAt),
            .real(job.timeoutSeconds), .real(job.graceSeconds), SQLiteValue(job.cancelRequestedAt),
            SQLiteValue(job.pid), SQLiteValue(job.exitCode), SQLiteValue(job.signal), SQLiteValue(job.error),
            .text(job.cleanup.state.rawValue), SQLiteValue(job.cleanup.exitCode), SQLiteValue(job.cleanup.error),
            .integer(job.logBytes), .text(record.spec.json), SQLiteValue(record.idempotencyKey),
            SQLiteValue(record.requestFingerprint), SQLiteValue(record.processStartTicks.map { Int64(bitPattern: $0) }),
            SQLiteValue(record.owner),
        ]
    }

    static func labelsJSON(_ labels: [String: String]) -> String {
        var writer = JSONWriter()
        writer.stringMap(labels)
        return writer.text
    }

    /// Binds every value to ?1…?N of `statement` (`SQLiteJobRows.insertSQL` or `updateSQL`).
    func bind(to statement: SQLiteStatement) throws(SQLiteError) {
        for (index, value) in values.enumerated() { try statement.bind(Int32(index + 1), value) }
    }
}
