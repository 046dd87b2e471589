import JobsdAPI
import JobsdStore
import Testing

/// The `JobLogStore` contract, run against the data dir's files (next to SQLite) and PostgreSQL:
/// the output a running job's log takes in reads back the same from the store, whoever reads it.
@Suite struct JobLogStoreContractTests {
    static let factories = [StoreFactory.sqlite, .postgres]

    @Test(arguments: factories)
    func closedOutput_ReadsBackInArrivalOrder_ByStream_AndFromACursor(_ factory: StoreFactory) async throws {
        try await withLogStore(factory) { store, logs in
            let id = try await started(1, in: store)
            let log = logs.create(id, maxBytes: 1000, owner: nil) {}
            append(log, "out1 ", .stdout)
            append(log, "err1 ", .stderr)
            append(log, "out2 ", .stdout)
            append(log, "out3 ", .stdout)
            await log.close()
            append(log, "ignored after close", .stdout)
            #expect(log.keptBytes == 20)
            #expect(log.endOffset == 20)
            let all = try await logs.read(id, stream: nil, from: nil)
            #expect(text(all) == "out1 err1 out2 out3 ")
            #expect(!all.truncated)
            #expect(all.next == 20)
            #expect(text(try await logs.read(id, stream: .stdout, from: nil)) == "out1 out2 out3 ")
            #expect(text(try await logs.read(id, stream: .stderr, from: nil)) == "err1 ")
            #expect(text(try await logs.read(id, stream: nil, from: 7)) == "r1 out2 out3 ")
            #expect(text(try await log.read(stream: .stdout, from: 7)) == "out2 out3 ")
            #expect(try await logs.read(id, stream: nil, from: 20).bytes.isEmpty)
            let none = try await logs.read(jobID(2), stream: nil, from: nil)
            #expect(none.bytes.isEmpty && !none.truncated && none.next == 0, "a job without output has an empty log")
        }
    }

    @Test(arguments: factories)
    func outputPastTheCap_KeepsTheNewestBytes_AndSaysOlderOnesWereDropped(_ factory: StoreFactory) async throws {
        try await withLogStore(factory) { store, logs in
            let id = try await started(1, in: store)
            let cap = 100_000
            let log = logs.create(id, maxBytes: cap, owner: nil) {}
            // 1 MiB in 4 KiB writes, the streams taking turns: many batches, most of them dropped.
            var written: [UInt8] = []
            var stderrWritten: [UInt8] = []
            for n in 0..<256 {
                let block = [UInt8](repeating: UInt8(ascii: "a") + UInt8(n % 26), count: 4096)
                written += block
                if n % 2 == 1 { stderrWritten += block }
                block.withUnsafeBytes { log.append($0, stream: n % 2 == 0 ? .stdout : .stderr) }
            }
            await log.close()
            #expect(log.keptBytes == Int64(cap))
            let all = try await logs.read(id, stream: nil, from: nil)
            #expect(all.bytes == Array(written.suffix(cap)))
            #expect(all.truncated)
            #expect(all.next == UInt64(written.count))
            let keptStart = written.count - cap
            let stderrKept = (0..<256).filter { $0 % 2 == 1 }.flatMap { n -> [UInt8] in
                let (lower, upper) = (max(n * 4096, keptStart), (n + 1) * 4096)
                return lower < upper ? Array(written[lower..<upper]) : []
            }
            #expect(try await logs.read(id, stream: .stderr, from: nil).bytes == stderrKept)
            #expect(stderrKept.count < stderrWritten.count)
            #expect(try await logs.read(id, stream: nil, from: 5).truncated, "a cursor before the kept bytes is told")
            let tail = try await logs.read(id, stream: nil, from: UInt64(written.count - 10))
            #expect(tail.bytes == Array(written.suffix(10)))
            #expect(!tail.truncated)
        }
    }

    @Test(arguments: factories)
    func purgingAFinishedJob_TakesItsOutputWithIt(_ factory: StoreFactory) async throws {
        try await withLogStore(factory) { store, logs in
            let id = try await started(1, in: store)
            let log = logs.create(id, maxBytes: 1000, owner: nil) {}
            append(log, "kept until the sweep", .stdout)
            await log.close()
            var finished = try #require(try await store.get(id))
            finished.job.state = .succeeded
            finished.job.finishedAt = Timestamp(milliseconds: 1_000)
            try await store.update(finished)
            #expect(text(try await logs.read(id, stream: nil, from: nil)) == "kept until the sweep")
            let swept = try await store.purge(finishedBefore: Timestamp(milliseconds: 2_000))
            #expect(swept == [id])
            logs.remove(swept)
            #expect(try await logs.read(id, stream: nil, from: nil).bytes.isEmpty)
        }
    }

    // MARK: - Helpers

    /// Stores job `n` as running (a log belongs to a stored job) and returns its id.
    private func started(_ n: Int, in store: any JobStore) async throws -> String {
        var record = JobRecord.make(n)
        record.job.state = .running
        _ = try await store.insert(record)
        return record.id
    }

    private func append(_ log: any OpenJobLog, _ text: String, _ stream: LogStream) {
        Array(text.utf8).withUnsafeBytes { log.append($0, stream: stream) }
    }

    private func text(_ slice: JobLogSlice) -> String { String(decoding: slice.bytes, as: UTF8.self) }
}
