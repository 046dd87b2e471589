/// The measures of issue 7 and their targets, computed from the per-measure result files.
extension Report {
    static func rows(_ r: Results) -> [ReportRow] {
        [
            row("GET /v1/jobs/{id} req/s, wrk -c64", target: "≥ 0.5×") { row in
                row.value = try r.number("get_c64", "requests_per_second")
                row.reference = try r.number("nginx_c64", "requests_per_second")
                row.referenceName = "nginx"
                let bad = try wrkErrors(r, "get_c64") + r.number("get_c64", "non_2xx")
                row.note = [bad > 0 ? "\(Int(bad)) errors/non-2xx" : "", medianNote(r, "get_c64")].filter { !$0.isEmpty }.joined(separator: ", ")
                row.met = (row.ratio ?? 0) >= 0.5 && bad == 0
            },
            row("GET /v1/jobs/{id} req/s, wrk -c1000") { row in
                row.value = try r.number("get_c1000", "requests_per_second")
                row.reference = try r.number("nginx_c1000", "requests_per_second")
                row.referenceName = "nginx"
            },
            row("-c1000 listen drops + overflows", target: "0") { row in
                row.value = try r.number("get_c1000", "listen_drops") + r.number("get_c1000", "listen_overflows")
                row.reference = try r.number("nginx_c1000", "listen_drops") + r.number("nginx_c1000", "listen_overflows")
                row.referenceName = "nginx"
                row.met = row.value == 0
            },
            row("-c1000 timeouts + socket errors", target: "0") { row in
                row.value = try wrkErrors(r, "get_c1000")
                row.reference = try wrkErrors(r, "nginx_c1000")
                row.referenceName = "nginx"
                let non2xx = try r.number("get_c1000", "non_2xx")
                if non2xx > 0 { row.note = "\(Int(non2xx)) non-2xx" }
                row.met = row.value == 0 && non2xx == 0
            },
            row("-c1000 p99 latency ms", target: "≤ 2×") { row in
                row.value = try r.number("get_c1000", "p99_ms")
                row.reference = try r.number("nginx_c1000", "p99_ms")
                row.referenceName = "nginx"
                row.note = medianNote(r, "get_c1000")
                row.met = row.ratio.map { $0 <= 2 } ?? false
            },
            row("jobs completed/s, 64 clients, durable", target: "≥ 0.6×") { row in
                row.value = try r.number("throughput", "per_second")
                row.reference = try r.number("spawn_rate", "per_second")
                row.referenceName = "spawn loop"
                let errors = try r.number("throughput", "errors") + r.number("throughput", "other_status")
                if errors > 0 { row.note = "\(Int(errors)) errors" }
                row.met = (row.ratio ?? 0) >= 0.6
            },
            row("overload: 201s reaching terminal %", target: "100 %, rest 429") { row in
                let accepted = try r.number("overload", "accepted"), rejected = try r.number("overload", "rejected_429")
                let other = try r.number("overload", "other_status") + r.number("overload", "errors")
                row.value = try r.number("overload", "completion_ratio") * 100
                row.note = "\(Int(accepted)) × 201, \(Int(rejected)) × 429, \(Int(other)) other"
                row.met = row.value == 100 && other == 0 && rejected > 0
            },
            row("start latency p50 ms (POST → process runs)", target: "≤ 1 ms") { row in
                row.value = try r.number("start_latency", "start_p50_ms")
                row.reference = try r.number("spawn_start", "p50_us") / 1000
                row.referenceName = "spawn→main"
                row.met = row.value! <= 1
            },
            row("start latency p99 ms") { row in
                row.value = try r.number("start_latency", "start_p99_ms")
                row.reference = try r.number("spawn_start", "p99_us") / 1000
                row.referenceName = "spawn→main"
            },
            row("cancel latency p50 ms (DELETE → terminal)") { row in
                row.value = try r.number("cancel_latency", "cancel_p50_ms")
                row.reference = try r.number("spawn_kill", "p50_us") / 1000
                row.referenceName = "kill→waitpid"
            },
            row("cancel latency p99 ms", target: "≤ 2 ms") { row in
                row.value = try r.number("cancel_latency", "cancel_p99_ms")
                row.reference = try r.number("spawn_kill", "p99_us") / 1000
                row.referenceName = "kill→waitpid"
                let missed = try r.number("cancel_latency", "not_cancelled")
                if missed > 0 { row.note = "\(Int(missed)) not cancelled" }
                row.met = row.value! <= 2 && missed == 0
            },
            row("RSS MB, idle keep-alive connections", target: "≤ 64 MB") { row in
                let requested = try r.number("idle_connections", "requested"), opened = try r.number("idle_connections", "opened")
                let checked = try r.number("idle_connections", "alive_checked"), alive = try r.number("idle_connections", "alive_ok")
                row.measure = "RSS MB, \(Int(requested)) idle keep-alive connections"
                row.value = try r.number("idle_connections", "rss_mb")
                row.note = "\(Int(opened)) open, \(Int(alive))/\(Int(checked)) sampled alive"
                row.met = row.value! <= 64 && opened == requested && alive == checked
            },
            row("RSS MB, running sleep jobs", target: "≤ 128 MB") { row in
                let requested = try r.number("running_jobs", "requested"), running = try r.number("running_jobs", "running")
                row.measure = "RSS MB, \(Int(requested)) running sleep jobs"
                row.value = try r.number("running_jobs", "rss_mb")
                row.note = "\(Int(running)) running, \(Int(try r.number("running_jobs", "cancelled"))) cancelled after"
                row.met = row.value! <= 128 && running == requested
            },
            row("durable POSTs/s, 64 clients, jobs queued", target: "≥ 0.8×") { row in
                row.value = try r.number("submit_sqlite", "per_second")
                row.reference = try r.number("submit_memory", "per_second")
                row.referenceName = "memory store"
                row.note = medianNote(r, "submit_sqlite")
                row.met = (row.ratio ?? 0) >= 0.8
            },
        ] + growthRows(r)
    }

    static func row(_ measure: String, target: String = "—", _ fill: (inout ReportRow) throws -> Void) -> ReportRow {
        var row = ReportRow(measure: measure, target: target)
        do { try fill(&row) } catch { row.error = "\(error)" }
        return row
    }

    /// "median of N" for a measure run N > 1 times, else empty.
    private static func medianNote(_ r: Results, _ name: String) -> String {
        guard let n = try? r.number(name, "repeats"), n > 1 else { return "" }
        return "median of \(Int(n))"
    }

    static func wrkErrors(_ r: Results, _ name: String) throws(LoadError) -> Double {
        var sum = 0.0
        for key in ["errors_connect", "errors_read", "errors_write", "errors_timeout"] { sum += try r.number(name, key) }
        return sum
    }
}
