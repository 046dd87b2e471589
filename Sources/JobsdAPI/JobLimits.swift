import Foundation

/// A job's resource limits (`limits` in `POST /v1/jobs`). nil: not limited (unless the server
/// has a default). How each is enforced depends on the machine (`GET /v1/capabilities`):
/// `memory_bytes`, `cpu` and `pids` by the job's cgroup (v2 controllers, or v1 controllers on
/// the hybrid layout), `open_files` and `cpu_seconds` by rlimits of every process of the job.
public struct JobLimits: Codable, Sendable, Equatable {
    /// Memory of the whole job (all its processes), bytes; past it the kernel OOM-kills.
    public var memoryBytes: Int64?
    /// CPU time per wall-clock time of the whole job, in cores (0.5: half a core).
    public var cpu: Double?
    /// Processes (and threads) of the whole job at once; forks past it fail.
    public var pids: Int64?
    /// Open file descriptors per process (RLIMIT_NOFILE).
    public var openFiles: Int64?
    /// CPU seconds per process (RLIMIT_CPU): SIGXCPU when reached, SIGKILL a second later.
    public var cpuSeconds: Int64?

    public init(memoryBytes: Int64? = nil, cpu: Double? = nil, pids: Int64? = nil, openFiles: Int64? = nil, cpuSeconds: Int64? = nil) {
        self.memoryBytes = memoryBytes
        self.cpu = cpu
        self.pids = pids
        self.openFiles = openFiles
        self.cpuSeconds = cpuSeconds
    }

    /// The limit kinds, by their JSON names.
    public enum Kind: String, Sendable, CaseIterable {
        case memoryBytes = "memory_bytes"
        case cpu
        case pids
        case openFiles = "open_files"
        case cpuSeconds = "cpu_seconds"

        /// The values this kind may take, and how a message says so.
        public var bounds: (range: ClosedRange<Double>, whole: Bool, text: String) {
            switch self {
            case .memoryBytes: (1_048_576...4.6e18, true, "a whole number of bytes >= 1048576 (1 MiB)")
            case .cpu: (0.01...4096, false, "a number of cores from 0.01 to 4096")
            case .pids: (1...4_194_304, true, "a whole number from 1 to 4194304")
            case .openFiles: (3...1_048_576, true, "a whole number from 3 to 1048576")
            case .cpuSeconds: (1...31_536_000, true, "a whole number of seconds from 1 to 31536000")
            }
        }

        /// Whether `value` is in `bounds`.
        public func accepts(_ value: Double) -> Bool {
            let (range, whole, _) = bounds
            return range.contains(value) && (!whole || value.rounded() == value)
        }
    }

    enum CodingKeys: String, CodingKey {
        case memoryBytes = "memory_bytes"
        case cpu, pids
        case openFiles = "open_files"
        case cpuSeconds = "cpu_seconds"
    }

    /// The value of `kind` as a number (nil: not set).
    public subscript(kind: Kind) -> Double? {
        get {
            switch kind {
            case .memoryBytes: memoryBytes.map(Double.init)
            case .cpu: cpu
            case .pids: pids.map(Double.init)
            case .openFiles: openFiles.map(Double.init)
            case .cpuSeconds: cpuSeconds.map(Double.init)
            }
        }
        set {
            switch kind {
            case .memoryBytes: memoryBytes = newValue.map { Int64($0) }
            case .cpu: cpu = newValue
            case .pids: pids = newValue.map { Int64($0) }
            case .openFiles: openFiles = newValue.map { Int64($0) }
            case .cpuSeconds: cpuSeconds = newValue.map { Int64($0) }
            }
        }
    }

    /// The kinds that are set.
    public var kinds: [Kind] { Kind.allCases.filter { self[$0] != nil } }

    public var isEmpty: Bool { kinds.isEmpty }

    /// `{"memory_bytes":…,…}` with the set limits only.
    public func write(into w: inout JSONWriter) {
        w.raw("{")
        for (i, kind) in kinds.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(kind.rawValue)
            w.raw(":")
            w.number(self[kind]!)
        }
        w.raw("}")
    }

    /// Parses a stored or submitted `limits` object whose values were validated already; nil when
    /// it has another shape.
    public init?(json: JSONValue) {
        guard case let .object(members) = json else { return nil }
        self.init()
        for (key, value) in members {
            guard let kind = Kind(rawValue: key), case let .number(n) = value else { return nil }
            self[kind] = n
        }
    }
}

/// Sizes as people type them: `512M`, `2G`, `1.5GiB`, `100k` or plain bytes; K/M/G/T are powers
/// of 1024 (as Kubernetes' Ki/Mi/Gi and `ulimit` read them).
public enum ByteSize {
    /// Bytes for `text`, or nil when it is not a size.
    public static func bytes(from text: String) -> Int64? {
        var t = Substring(text.trimmingCharacters(in: .whitespaces)).uppercased()[...]
        for suffix in ["IB", "B"] where t.hasSuffix(suffix) {
            t = t.dropLast(suffix.count)
            break
        }
        let scales: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var scale = 1.0
        if let last = t.last, let s = scales[last] {
            scale = s
            t = t.dropLast()
        }
        guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let n = Double(t) else { return nil }
        let bytes = (n * scale).rounded()
        guard bytes.isFinite, bytes >= 0, bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}
