import JobsdAPI
import JobsdClient
import Testing

struct WaitExitStatusTests {
    @Test(arguments: [
        (JobState.succeeded, Int32?.some(0), Int32(0)),
        (.failed, 3, 3),
        (.failed, nil, 1),
        (.failed, 0, 1),
        (.timedOut, 143, 124),
        (.timedOut, nil, 124),
        (.cancelled, nil, 130),
        (.cancelled, 143, 130),
        (.running, nil, 1),
        (.queued, nil, 1),
    ])
    func waitExitStatus_MapsTheOutcome(state: JobState, exitCode: Int32?, expected: Int32) {
        #expect(Job.make(state: state, exitCode: exitCode).waitExitStatus == expected)
    }
}
