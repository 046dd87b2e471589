import Foundation
import JobsdAPI
import JobsdStore
import Testing

@Suite struct JobLogTests {
    let dataDirectory: String

    init() throws {
        dataDirectory = NSTemporaryDirectory() + "joblog-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
    }

    func append(_ log: JobLog, _ text: String, _ stream: LogStream) {
        Array(text.utf8).withUnsafeBytes { log.append($0, stream: stream) }
    }

    func text(_ slice: JobLogSlice) -> String { String(decoding: slice.bytes, as: UTF8.self) }

    @Test func read_InterleavesStreamsInArrivalOrder_AndServesEachStreamAlone() throws {
        let log = JobLog.create(dataDirectory: dataDirectory, id: "a", maxBytes: 1000)
        append(log, "out1 ", .stdout)
        append(log, "err1 ", .stderr)
        append(log, "out2 ", .stdout)
        append(log, "out3 ", .stdout)
        #expect(text(log.read(stream: nil, from: nil)) == "out1 err1 out2 out3 ")
        #expect(text(log.read(stream: .stdout, from: nil)) == "out1 out2 out3 ")
        #expect(text(log.read(stream: .stderr, from: nil)) == "err1 ")
        #expect(log.keptBytes == 20)
        #expect(!log.truncated)
    }

    @Test func outputTheFilesCannotTake_IsCounted_AndTheLogSaysWhenItStoresAgain() throws {
        let drops = DropRecorder()
        let log = JobLog.create(dataDirectory: dataDirectory, id: "g", maxBytes: 1000, onDrop: drops.record)
        // The log's directory cannot be made: a file stands where it goes.
        try FileManager.default.createDirectory(atPath: dataDirectory + "/logs", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: log.directory, contents: Data()))
        append(log, "lost ", .stdout)
        append(log, "also lost", .stderr)
        #expect(log.droppedBytes == 14)
        if case .started(let error)? = drops.changes.first {
            #expect(error.contains("Not a directory"), "\(error)")
        } else {
            Issue.record("no drop reported: \(drops.changes)")
        }
        #expect(drops.changes.count == 1, "one report per run of drops, not one per append")

        try FileManager.default.removeItem(atPath: log.directory)
        append(log, "kept", .stdout)
        append(log, " too", .stdout)
        #expect(drops.changes.dropFirst() == [.ended(bytes: 14)])
        #expect(text(log.read(stream: nil, from: nil)) == "kept too")
        #expect(log.droppedBytes == 14, "the total stays")
        #expect(log.keptBytes == 8)
    }

    @Test func read_FromACursor_ReturnsOnlyNewerBytes() throws {
        let log = JobLog.create(dataDirectory: dataDirectory, id: "b", maxBytes: 1000)
        append(log, "hello ", .stdout)
        let first = log.read(stream: nil, from: nil)
        append(log, "world", .stderr)
        let second = log.read(stream: nil, from: first.next)
        #expect(text(second) == "world")
        #expect(log.read(stream: .stdout, from: first.next).bytes.isEmpty)
        #expect(log.read(stream: nil, from: second.next).bytes.isEmpty)
        log.close()
        append(log, "ignored", .stdout)
        #expect(text(log.read(stream: .stderr, from: nil)) == "world")
    }

    @Test func append_PastTheCap_DropsTheOldestBytes_AndReportsTruncation() throws {
        let log = JobLog.create(dataDirectory: dataDirectory, id: "c", maxBytes: 10)
        for i in 0..<50 { append(log, String(i % 10), i % 2 == 0 ? .stdout : .stderr) }
        #expect(text(log.read(stream: nil, from: nil)) == "0123456789")
        #expect(text(log.read(stream: .stdout, from: nil)) == "02468")
        #expect(log.truncated)
        #expect(log.keptBytes == 10)
        append(log, String(repeating: "x", count: 25), .stdout)
        #expect(text(log.read(stream: nil, from: nil)) == String(repeating: "x", count: 10))
        #expect(log.read(stream: nil, from: 3).truncated)
    }

    @Test func open_AfterTheWriterIsGone_ReadsTheSameBytes() throws {
        do {
            let log = JobLog.create(dataDirectory: dataDirectory, id: "d", maxBytes: 8)
            append(log, "abcdef", .stdout)
            append(log, "ghijkl", .stderr)
            append(log, "mnopqrstuvwxyz", .stdout)
            append(log, "123", .stderr)
        }
        let reopened = try #require(JobLog.open(dataDirectory: dataDirectory, id: "d"))
        #expect(text(reopened.read(stream: nil, from: nil)) == "vwxyz123")
        #expect(text(reopened.read(stream: .stderr, from: nil)) == "123")
        #expect(reopened.truncated)
        JobLog.remove(dataDirectory: dataDirectory, id: "d")
        #expect(JobLog.open(dataDirectory: dataDirectory, id: "d") == nil)
    }

    @Test func remove_DeletesTheLogDirectory_EvenWithAStrayFileInside() throws {
        let log = JobLog.create(dataDirectory: dataDirectory, id: "e", maxBytes: 100)
        append(log, "abc", .stdout)
        let dir = JobLog.directory(dataDirectory: dataDirectory, id: "e")
        try "x".write(toFile: dir + "/stray", atomically: false, encoding: .utf8)
        JobLog.remove(dataDirectory: dataDirectory, id: "e")
        #expect(!FileManager.default.fileExists(atPath: dir))
        JobLog.remove(dataDirectory: dataDirectory, id: "e")
    }

    @Test func compact_ThatCannotOpenItsTemporaryIndex_LeavesNoDescriptorOrFileBehind_AndKeepsLogging() throws {
        let log = JobLog.create(dataDirectory: dataDirectory, id: "f", maxBytes: 4)
        append(log, "ab", .stdout)
        let dir = JobLog.directory(dataDirectory: dataDirectory, id: "f")
        // A directory where the compaction's temporary index goes: opening it for writing fails.
        try FileManager.default.createDirectory(atPath: dir + "/index.tmp", withIntermediateDirectories: false)
        for _ in 0..<20 { append(log, "cd", .stdout) }  // past twice the cap: compaction is tried
        let openFiles = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
            .compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
        #expect(!openFiles.contains { $0.hasPrefix(dir + "/data.tmp") })
        #expect(!FileManager.default.fileExists(atPath: dir + "/data.tmp"))
        #expect(text(log.read(stream: nil, from: nil)) == "cdcd")
    }
}
