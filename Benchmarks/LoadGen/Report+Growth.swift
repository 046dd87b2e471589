/// The measures of issue 14 (peer, flood, context switches, and how cost grows with the work),
/// computed from the per-measure result files.
extension Report {
    static let growthClients = [1, 4, 16, 64, 256]

    static func growthRows(_ r: Results) -> [ReportRow] {
        var rows = [
            row("jobs completed/s, 64 clients, vs adnanh/webhook", target: "> 1×") { row in
                row.value = try r.number("throughput", "per_second")
                row.reference = try r.number("webhook", "requests_per_second")
                row.referenceName = "webhook"
                let bad = try wrkErrors(r, "webhook") + r.number("webhook", "non_2xx")
                if bad > 0 { row.note = "webhook: \(Int(bad)) errors/non-2xx" }
                row.met = (row.ratio ?? 0) > 1
            },
            row("context switches of jobsd's threads per job (measure 2)") { row in
                row.value = try r.number("context_switches", "per_job")
            },
            row("flood: completed jobs/s, 64 clients, 64 slots, queue 8", target: "≥ 0.9×, > webhook") { row in
                row.value = try r.number("flood", "completed_per_second")
                row.reference = try r.number("throughput", "per_second")
                row.referenceName = "measure 2"
                let webhook = try r.number("webhook", "requests_per_second")
                let accepted = try r.number("flood", "accepted"), rejected = try r.number("flood", "rejected_429")
                let other = try r.number("flood", "other_status") + r.number("flood", "errors")
                let complete = try r.number("flood", "completion_ratio") == 1
                row.note = "\(Int(accepted)) × 201, \(Int(rejected)) × 429, \(Int(other)) other, webhook \(ReportRow.format(webhook))/s"
                row.met = (row.ratio ?? 0) >= 0.9 && row.value! > webhook && other == 0 && complete
            },
        ]
        for clients in growthClients {
            rows.append(row("growth: jobs/s at \(clients) clients (start p50 / p99 ms in note)",
                            target: clients == 256 ? "≥ 0.9× at 64" : clients == 1 ? "start p99 ≤ 2 ms" : "—") { row in
                let name = "growth_c\(clients)"
                row.value = try r.number(name, "per_second")
                row.note = try "start \(ReportRow.format(r.number(name, "start_p50_ms"))) / \(ReportRow.format(r.number(name, "start_p99_ms"))) ms"
                if clients == 256 {
                    row.reference = try r.number("growth_c64", "per_second")
                    row.referenceName = "64 clients"
                    row.met = (row.ratio ?? 0) >= 0.9
                } else if clients == 1 {
                    row.met = try r.number(name, "start_p99_ms") <= 2
                }
            })
        }
        rows += [
            row("backlog drain jobs/s", target: "≥ 0.9×") { row in
                row.measure = try "backlog drain jobs/s, \(Int(r.number("backlog_large", "jobs"))) queued"
                row.value = try r.number("backlog_large", "drain_per_second")
                row.reference = try r.number("backlog_small", "drain_per_second")
                row.referenceName = try "\(Int(r.number("backlog_small", "jobs"))) queued"
                let left = try r.number("backlog_large", "not_terminal") + r.number("backlog_large", "errors")
                if left > 0 { row.note = "\(Int(left)) not terminal/errors" }
                row.met = (row.ratio ?? 0) >= 0.9 && left == 0
            },
            drainLatencyRow(r, "POST", key: "post_during_drain"),
            drainLatencyRow(r, "GET /v1/jobs?limit=20", key: "list_during_drain"),
            row("RSS MB with queued jobs", target: "≤ 128 MB") { row in
                let small = try r.number("backlog_small", "jobs"), large = try r.number("backlog_large", "jobs")
                row.measure = "RSS MB, \(Int(small)) queued jobs"
                row.value = try r.number("backlog_small", "rss_queued_mb")
                let perJob = try (r.number("backlog_large", "rss_queued_mb") - r.number("backlog_large", "rss_before_mb")) * 1024 / large
                row.note = try "\(ReportRow.format(r.number("backlog_large", "rss_queued_mb"))) MB with \(Int(large)), \(ReportRow.format(perJob)) KiB per queued job; "
                    + "\(ReportRow.format(r.number("backlog_large", "rss_idle_mb"))) MB idle after the drain"
                row.met = row.value! <= 128
            },
        ]
        for (name, what) in [("get", "GET /v1/jobs/{id} (random ids) req/s, c64"), ("list_state", "GET /v1/jobs?state=failed&limit=20 req/s, c16"),
                             ("list_label", "GET /v1/jobs?label=…&limit=20 req/s, c16"), ("list_page", "GET /v1/jobs page 2 (cursor) req/s, c16")] {
            rows.append(row(what, target: "≥ 0.67× (cost ≤ 1.5×)") { row in
                row.measure = try "\(what), \(Int(r.number("fill_history", "jobs"))) stored"
                row.value = try r.number("\(name)_history", "requests_per_second")
                row.reference = try r.number("\(name)_empty", "requests_per_second")
                row.referenceName = try "\(Int(r.number("fill_empty", "jobs"))) stored"
                let bad = try r.number("\(name)_history", "non_2xx") + wrkErrors(r, "\(name)_history")
                if bad > 0 { row.note = "\(Int(bad)) errors/non-2xx" }
                row.met = (row.ratio ?? 0) >= 1 / 1.5 && bad == 0
            })
        }
        rows += [
            row("start-up s (ready after restart), stored history", target: "≤ 5 s") { row in
                row.measure = try "start-up s (until /readyz), \(Int(r.number("fill_history", "jobs"))) stored"
                row.value = try r.number("startup_history", "startup_seconds")
                row.reference = try r.number("startup_empty", "startup_seconds")
                row.referenceName = "small store"
                row.met = row.value! <= 5
            },
            row("RSS MB after the read load, stored history", target: "≤ 1.1×") { row in
                row.measure = try "RSS MB after the read load, \(Int(r.number("fill_history", "jobs"))) stored"
                row.value = try r.number("rss_history", "rss_mb")
                row.reference = try r.number("rss_mid", "rss_mb")
                row.referenceName = try "\(Int(r.number("fill_mid", "jobs"))) stored"
                row.note = try "\(ReportRow.format(r.number("rss_empty", "rss_mb"))) MB with \(Int(r.number("fill_empty", "jobs"))) (record cache not full)"
                row.met = (row.ratio ?? 9) <= 1.1
            },
        ]
        for (key, what) in [("get", "GET"), ("post", "POST")] {
            rows.append(row("\(what) p99 ms during a retention sweep", target: "≤ 2×") { row in
                row.measure = try "\(what) p99 ms during a retention sweep of \(Int(r.number("fill_sweep", "expiring"))) jobs"
                row.value = try r.number("probe_sweep", "\(key)_p99_ms")
                row.reference = try r.number("probe_nosweep", "\(key)_p99_ms")
                row.referenceName = "no sweep"
                let swept = try r.number("probe_sweep", "swept_in_window") == 1
                let bad = try r.number("probe_sweep", "errors") + r.number("probe_sweep", "other_status")
                row.note = [swept ? "" : "the sweep did not fall in the window", bad > 0 ? "\(Int(bad)) errors" : ""].filter { !$0.isEmpty }
                    .joined(separator: ", ")
                row.met = (row.ratio ?? 9) <= 2 && swept && bad == 0
            })
        }
        return rows
    }

    /// `what`'s p99 while the large backlog drains against while the small one does.
    private static func drainLatencyRow(_ r: Results, _ what: String, key: String) -> ReportRow {
        row("\(what) p99 ms while the backlog drains", target: "≤ 2×") { row in
            row.value = try r.number("backlog_large", "\(key)_p99_ms")
            row.reference = try r.number("backlog_small", "\(key)_p99_ms")
            row.referenceName = "small backlog"
            row.note = try "p50 \(ReportRow.format(r.number("backlog_large", "\(key)_p50_ms"))) ms"
            row.met = (row.ratio ?? 9) <= 2
        }
    }
}
