import Glibc

/// Memory figures of a process from `/proc/<pid>/status`, in KiB.
struct ProcStatus {
    /// Resident set size now (VmRSS) and its peak (VmHWM).
    var rssKiB: Int
    var peakKiB: Int

    init(pid: Int32) throws(LoadError) {
        guard let file = fopen("/proc/\(pid)/status", "r") else { throw LoadError(errno: "open /proc/\(pid)/status") }
        defer { fclose(file) }
        var rss: Int?, peak: Int?
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let value = Int(text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            if text.hasPrefix("VmRSS:") { rss = value } else if text.hasPrefix("VmHWM:") { peak = value }
        }
        guard let rss, let peak else { throw LoadError("/proc/\(pid)/status", "no VmRSS/VmHWM") }
        rssKiB = rss
        peakKiB = peak
    }
}
