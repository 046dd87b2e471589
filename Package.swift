// swift-tools-version:6.2
import PackageDescription

/// One set of settings for every target: Swift 6 language mode with strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "jobsd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jobsd", targets: ["jobsd"]),
        .executable(name: "jobctl", targets: ["jobctl"]),
        .library(name: "JobsdClient", targets: ["JobsdClient"]),
    ],
    dependencies: [
        // Structured, leveled logging with metadata; the server ecosystem's logging API.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Flag/env parsing and --help for the jobsd and jobctl executables.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Service groups, SIGTERM/SIGINT handling and graceful-shutdown ordering.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The ecosystem's metrics API: the engine emits through it, so an embedder plugs in any backend.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // The Prometheus backend of swift-metrics behind GET /metrics (atomics only, no SwiftNIO).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: - C shims
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // libpq (Debian libpq-dev): the PostgreSQL store for several nodes on one database.
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CProcessSupport"),
        // OpenSSL's libcrypto (Debian libssl-dev; libcurl4 already depends on libssl3): HMAC-SHA256 of webhook bodies.
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // MARK: - Libraries
        .target(
            name: "JobsdHTTP",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(name: "JobsdAPI", swiftSettings: swiftSettings),
        .target(name: "JobsdMetrics", swiftSettings: swiftSettings),
        .target(
            name: "JobsdStore",
            dependencies: [
                "CSQLite", "CPostgres", "JobsdAPI", "JobsdMetrics", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JobsdCore",
            dependencies: [
                "JobsdStore", "JobsdAPI", "JobsdMetrics", "CProcessSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Completion webhooks: the outbox's delivery loop, libcurl through JobsdClient's transport, HMAC signatures.
        .target(
            name: "JobsdWebhooks",
            dependencies: [
                "JobsdCore", "JobsdStore", "JobsdAPI", "JobsdMetrics", "JobsdClient", "CCrypto",
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JobsdServer",
            dependencies: [
                "JobsdHTTP", "JobsdCore", "JobsdStore", "JobsdAPI", "JobsdMetrics", "JobsdWebhooks",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            // The web UI's files (UI/web/), embedded so the binary serves them with nothing beside it.
            resources: [.embedInCode("openapi.yaml")] + [
                "index.html", "app.css", "favicon.svg", "app.js", "api.js", "events.js", "dom.js", "argv.js",
                "job-table.js", "jobs-page.js", "submit-form.js", "job-page.js", "timeline.js", "groups-page.js",
            ].map { .embedInCode("UI/web/" + $0) },
            swiftSettings: swiftSettings
        ),
        .target(name: "JobsdClient", dependencies: ["CCurl", "JobsdAPI"], swiftSettings: swiftSettings),
        .target(
            name: "JobsdTesting",
            dependencies: ["JobsdServer", "JobsdClient", "JobsdCore", "JobsdStore", "JobsdHTTP", "JobsdMetrics", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // MARK: - Executables
        .executableTarget(
            name: "jobsd",
            dependencies: [
                "JobsdServer", "JobsdCore", "JobsdWebhooks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "jobctl",
            dependencies: [
                "JobsdClient", "JobsdAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Benchmarks/run.sh's load generator for the measures wrk cannot express (not run by the tests).
        .executableTarget(
            name: "jobsd-loadgen",
            dependencies: [
                "JobsdAPI", "JobsdMetrics", "JobsdStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/LoadGen",
            swiftSettings: swiftSettings
        ),

        // The ENOMEM-at-spawn fault test's launcher (IntegrationTests/SpawnMemoryFaultTests): runs jobsd
        // under a seccomp filter whose supervisor refuses its process-making clones while a file exists.
        .executableTarget(name: "jobsd-clone-fault", path: "Tests/CloneFault"),

        // MARK: - Tests
        .testTarget(
            name: "JobsdHTTPTests",
            dependencies: ["JobsdHTTP", "JobsdTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "JobsdAPITests", dependencies: ["JobsdAPI"], swiftSettings: swiftSettings),
        .testTarget(
            name: "JobsdStoreTests",
            dependencies: ["JobsdStore", "JobsdAPI", "JobsdTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JobsdCoreTests",
            dependencies: ["JobsdCore", "JobsdStore", .product(name: "MetricsTestKit", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "JobsdClientTests", dependencies: ["JobsdClient"], swiftSettings: swiftSettings),
        .testTarget(name: "JobsdWebhooksTests", dependencies: ["JobsdWebhooks", "JobsdCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["JobsdTesting", "JobsdClient", "JobsdAPI", "JobsdCore", "JobsdMetrics", "JobsdServer", "JobsdWebhooks"],
            swiftSettings: swiftSettings
        ),
    ]
)
