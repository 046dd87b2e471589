import ArgumentParser
import JobsdAPI

/// `jobctl status ID`
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a job.")

    @OptionGroup var job: ShowArguments<Job>

    func run() async throws { try await job.show() }
}
