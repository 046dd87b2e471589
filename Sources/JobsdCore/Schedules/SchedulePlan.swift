import Foundation
import JobsdAPI

/// A schedule's cron expression read in its time zone: when it fires next.
public struct SchedulePlan: Sendable {
    public let cron: CronExpression
    public let zone: TimeZone

    /// Throws `.cron` for an expression `CronExpression` refuses, `.timezone` for a name that
    /// is not an IANA zone this system knows.
    public init(cron: String, timezone: String) throws(SchedulePlanError) {
        do { self.cron = try CronExpression(parsing: cron) } catch { throw .cron(error) }
        guard !timezone.isEmpty, let zone = TimeZone(identifier: timezone) else { throw .timezone(timezone) }
        self.zone = zone
    }

    /// The first tick strictly after `time`; nil when the expression never fires again.
    public func next(after time: Timestamp) -> Timestamp? {
        cron.next(after: time.milliseconds, in: zone).map(Timestamp.init(milliseconds:))
    }
}

/// Why a schedule's cron expression or time zone cannot be used.
public enum SchedulePlanError: Error, Equatable {
    case cron(CronError)
    case timezone(String)
}
