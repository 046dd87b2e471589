import Glibc
import JobsdAPI
import JobsdCore

/// The server's rules for job `limits`: what each kind may be (ranges), the caps (`--max-memory`,
/// `--max-cpu`, …) and defaults (`--default-memory`, …), and which kinds this machine can
/// enforce (from the engine). A job's limits are checked and completed here, once, at submit:
/// a value above its cap or one that cannot be enforced is a `400` naming `limits.<kind>`
/// (never silently dropped); a kind the job leaves out gets the default, else the cap.
struct LimitPolicy: Sendable {
    var caps = JobLimits()
    var defaults = JobLimits()
    /// Why a kind cannot be enforced here (kinds missing: can be).
    var unavailable: [JobLimits.Kind: String] = [:]

    /// The flag of each kind's cap and default.
    static func capFlag(_ kind: JobLimits.Kind) -> String {
        switch kind {
        case .memoryBytes: "--max-memory"
        case .cpu: "--max-cpu"
        case .pids: "--max-pids"
        case .openFiles: "--max-open-files"
        case .cpuSeconds: "--max-cpu-seconds"
        }
    }

    /// Checks one value (from a request, a template or a flag); nil when fine, else why not.
    static func problem(_ kind: JobLimits.Kind, _ value: Double) -> String? {
        guard kind.accepts(value) else { return "limits.\(kind.rawValue) must be \(kind.bounds.text)" }
        if kind == .openFiles, geteuid() != 0 {
            var hard = rlimit()
            if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &hard) == 0, value > Double(hard.rlim_max) {
                return "limits.open_files must be at most \(hard.rlim_max) (jobsd's own hard limit; only root may raise it)"
            }
        }
        return nil
    }

    /// Parses the `limits` object of a request (or template) and completes it with the defaults.
    func limits(_ value: JSONValue?) throws(APIError) -> JobLimits? {
        var limits = try requested(value)
        for kind in JobLimits.Kind.allCases where limits[kind] == nil {
            limits[kind] = defaults[kind] ?? caps[kind]
        }
        try checkEnforceable(limits)
        return limits.isEmpty ? nil : limits
    }

    /// The limits a template request asks for (`JobSpecDecoder`): each within its range and cap
    /// and enforceable here, and for a kind the template sets, no higher than the template's
    /// value — a request may tighten a template's limits, never loosen them. Kinds the request
    /// leaves out keep the template's value.
    func tightened(_ base: JobLimits?, by value: JSONValue, template: String) throws(APIError) -> JobLimits? {
        let asked = try requested(value)
        try checkEnforceable(asked)
        var limits = base ?? JobLimits()
        for kind in asked.kinds {
            let n = asked[kind]!
            if let fixed = base?[kind], n > fixed {
                throw .invalid(
                    field: "limits.\(kind.rawValue)",
                    detail: "limits.\(kind.rawValue) may only lower template '\(template)''s limit (\(Self.format(fixed))), not raise it")
            }
            limits[kind] = n
        }
        return limits.isEmpty ? nil : limits
    }

    /// The kinds a `limits` object sets, each checked against its range and cap (no defaults).
    private func requested(_ value: JSONValue?) throws(APIError) -> JobLimits {
        var limits = JobLimits()
        guard let value else { return limits }
        guard case let .object(members) = value else {
            throw .invalid(field: "limits", detail: "limits must be an object with any of \(Self.kindList)")
        }
        for (key, v) in members {
            guard let kind = JobLimits.Kind(rawValue: key) else {
                throw .invalid(field: "limits.\(key)", detail: "unknown limit 'limits.\(key)'; allowed: \(Self.kindList)")
            }
            if case .null = v { continue }
            guard case let .number(n) = v else { throw .invalid(field: "limits.\(key)", detail: "limits.\(key) must be a number, not \(v.kindName)") }
            if let why = Self.problem(kind, n) { throw .invalid(field: "limits.\(key)", detail: why) }
            if let cap = caps[kind], n > cap {
                throw .invalid(field: "limits.\(key)", detail: "limits.\(key) must be at most \(Self.format(cap)) (\(Self.capFlag(kind)))")
            }
            limits[kind] = n
        }
        return limits
    }

    /// Refuses a kind this machine cannot enforce (never silently ignored).
    private func checkEnforceable(_ limits: JobLimits) throws(APIError) {
        for kind in limits.kinds {
            if let why = unavailable[kind] {
                throw .invalid(field: "limits.\(kind.rawValue)", detail: "limits.\(kind.rawValue) cannot be enforced on this server: \(why)")
            }
        }
    }

    /// Why the configured caps and defaults cannot be used (at start), nil when they can.
    func configurationProblem() -> String? {
        for kind in JobLimits.Kind.allCases {
            if let d = defaults[kind], let c = caps[kind], d > c {
                return "the default \(kind.rawValue) (\(Self.format(d))) must not exceed \(Self.capFlag(kind)) (\(Self.format(c)))"
            }
            if defaults[kind] != nil || caps[kind] != nil, let why = unavailable[kind] {
                return "\(Self.capFlag(kind)) / its default is set, but \(why)"
            }
        }
        return nil
    }

    static let kindList = JobLimits.Kind.allCases.map(\.rawValue).joined(separator: ", ")

    static func format(_ n: Double) -> String { n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n) }
}
