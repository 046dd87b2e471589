import Foundation
import JobsdAPI
import JobsdClient
import JobsdCore
import JobsdTesting
import Testing

/// Issue #22: the kernel cannot allocate a new process (`ENOMEM` from `clone3`, or from the
/// `clone` that forks a per-job subreaper). A real jobsd runs under `jobsd-clone-fault`
/// (Tests/CloneFault): a seccomp filter whose supervisor answers jobsd's own process-making
/// clones with `ENOMEM` while a file exists, and lets threads and the jobs' own forks through.
/// No real shortage refuses only the spawn (docs/faults.md says why), so the errno is injected
/// at the system call, as libfiu injects the store's I/O errors.
@Suite struct SpawnMemoryFaultTests {
    @Test(arguments: [ContainmentChoice.cgroup, .proc])
    func aSpawnTheKernelRefusesForWantOfMemory_FailsTheJobNamingTheCause_LeavesNothing_AndTheServerServesOn(
        containment: ContainmentChoice
    ) async throws {
        let dir = try TemporaryDirectory.make(prefix: "jobsd-enomem")
        defer { TemporaryDirectory.remove(dir) }
        let armed = dir + "/refuse-clones"
        let jobsd = try await JobsdProcess.start(
            dataDirectory: dir + "/data", env: ["JOBSD_CONTAINMENT": containment.rawValue],
            launcher: [try JobsdProcess.executable("jobsd-clone-fault"), armed, "--"])
        do {
            try await Self.spawnsRefused(jobsd, containment: containment, armed: armed)
        } catch {
            await jobsd.signal(SIGKILL)
            throw error
        }
        // A clean shutdown, and the supervisor ends with jobsd.
        #expect(await jobsd.stop().exitCode == 0, "log:\n\(jobsd.log)")
        try await eventually("the clone supervisor ending with jobsd") { processes(withArgument: armed).isEmpty }
    }

    private static func spawnsRefused(_ jobsd: JobsdProcess, containment: ContainmentChoice, armed: String) async throws {
        let client = jobsd.client()
        var readiness = try await client.transport.send(ClientRequest(path: "/readyz"))
        try await eventually("jobsd ready (its start-up recovery done)") {
            readiness = try await client.transport.send(ClientRequest(path: "/readyz"))
            return readiness.status == 200
        }
        let ready = try JSONValue.parse(readiness.body)
        #expect(ready["containment"] == .string(containment.rawValue))
        guard case let .string(cgroupRoot)? = ready["containment_detail"] else { throw TestFailure("/readyz: no containment_detail") }

        // Unarmed, the filter changes nothing: a job whose shell forks runs.
        let warm = try await client.submit(JobSpec(command: ["sh", "-c", "echo warm; sh -c 'echo nested'"]))
        #expect(try await client.wait(warm.id, timeout: 30).state == .succeeded)
        #expect(try await client.logs(warm.id).text == "warm\nnested\n")
        let descriptors = descriptorsBesideSockets(jobsd.child.pid)

        // Armed: every spawn fails with ENOMEM; two jobs, each failing cleanly.
        #expect(FileManager.default.createFile(atPath: armed, contents: nil))
        for _ in 0..<2 {
            let job = try await client.submit(JobSpec(command: ["sh", "-c", "echo never"]))
            let failed = try await client.wait(job.id, timeout: 30)
            #expect(failed.state == .failed)
            #expect(failed.error?.contains("Cannot allocate memory") == true, "error: \(failed.error ?? "nil")")
            #expect(failed.pid == nil)
            #expect(failed.exitCode == nil)
            let events = try await client.events(job.id)
            #expect(events.map(\.type) == [.submitted, .spawnFailed, .finished])
            #expect(processesAlive(markedWith: job.id).isEmpty)
            // Nothing of it left: workdir, cgroup, subreaper record.
            #expect(!FileManager.default.fileExists(atPath: jobsd.dataDirectory + "/work/" + job.id))
            #expect(!FileManager.default.fileExists(atPath: jobsd.dataDirectory + "/subreapers/" + job.id))
            if containment == .cgroup {
                #expect(cgroupRoot.hasPrefix("/sys/fs/cgroup"), "containment_detail: \(cgroupRoot)")
                #expect(!FileManager.default.fileExists(atPath: cgroupRoot + "/" + job.id))
            }
        }
        #expect(jobsd.log.contains("jobsd-clone-fault: syscall"), "the refusals came from the filter; log:\n\(jobsd.log)")
        // No descriptor of the failed spawns (their pipes) stays open in jobsd. (The warm-up job's
        // may close meanwhile: its subreaper's pidfd goes when the tree is released.)
        #expect(Set(descriptorsBesideSockets(jobsd.child.pid)).subtracting(descriptors).isEmpty)

        // The server serves on meanwhile: reads, lists, readiness (a spawn failure is no store fault).
        #expect(try await client.transport.send(ClientRequest(path: "/readyz")).status == 200)
        #expect(try await client.job(warm.id).state == .succeeded)

        // Memory back: the next job runs with its output.
        try FileManager.default.removeItem(atPath: armed)
        let next = try await client.submit(JobSpec(command: ["sh", "-c", "echo again"]))
        #expect(try await client.wait(next.id, timeout: 30).state == .succeeded)
        #expect(try await client.logs(next.id).text == "again\n")
    }
}

/// The descriptors process `pid` holds now that are not sockets (the HTTP connections come and
/// go): its store, logs, pipes, pidfds.
private func descriptorsBesideSockets(_ pid: pid_t) -> [String] {
    let dir = "/proc/\(pid)/fd"
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return fds.compactMap { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd), !target.hasPrefix("socket:") else {
            return nil
        }
        return "\(fd) -> \(target)"
    }.sorted()
}

/// Processes with `argument` among their arguments.
private func processes(withArgument argument: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard let pid = pid_t(entry), let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
        return cmdline.split(separator: 0).contains(where: { Array($0) == Array(argument.utf8) }) ? pid : nil
    }
}
