// swift-tools-version: 6.2
import PackageDescription

/// Settings for every Swift target we own (system-library targets take none).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

/// The numeric modules are optimised in debug builds too: `make test` runs `scalper` as built for the tests, and the
/// training, feature, scoring and replay loops it drives spend three quarters of their time in unspecialised generics
/// and retain/release at -Onone. Interfaces and semantics are the same (no -Ounchecked: every precondition stays).
let computeSettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "CryptoScalper",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "scalper", targets: ["scalper"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        // The shared runs database and job queue of sweeps and walk-forwards over several machines (issue #17):
        // Vapor's PostgreSQL client, async, on the swift-nio we already build.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        // MARK: - C system libraries (imported only by LinearAlgebra, XGBoost and MarketData's Gzip.swift)
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CXGBoost", pkgConfig: "xgboost", providers: [.apt(["libxgboost-dev"])]),
        .systemLibrary(name: "CScalperZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: - Foundations
        .target(
            name: "ScalperCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: computeSettings
        ),
        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS"], swiftSettings: computeSettings),
        .target(name: "XGBoost", dependencies: ["CXGBoost", "ScalperCore"], swiftSettings: computeSettings),

        // MARK: - Pipeline (data flows top to bottom)
        // The client side of Binance's wire protocol (REST, streams, orders): MarketData downloads
        // through it, the scanner and sessions connect through it.
        .target(
            name: "Binance",
            dependencies: [
                "ScalperCore",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MarketData",
            dependencies: [
                "ScalperCore", "Binance", "CScalperZlib",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: computeSettings
        ),

        .target(name: "Features", dependencies: ["ScalperCore", "LinearAlgebra"], swiftSettings: computeSettings),

        .target(
            name: "Model",
            dependencies: [
                "ScalperCore", "LinearAlgebra", "XGBoost", "Features",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: computeSettings
        ),

        .target(
            name: "Registry",
            dependencies: [
                "Model",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Scanner",
            dependencies: [
                "LinearAlgebra", "Features", "ScalperCore", "Binance",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Exchange",
            dependencies: [
                "ScalperCore", "MarketData", "Binance", "Trading",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Trading",
            dependencies: ["ScalperCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: computeSettings
        ),
        .target(
            name: "Session",
            dependencies: [
                "ScalperCore", "Trading", "Binance", "Model", "Features", "Scanner", "LinearAlgebra",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "Research", swiftSettings: computeSettings),
        // Jobs of sweeps and walk-forwards queued on PostgreSQL, claimed by `scalper worker` on any machine.
        .target(
            name: "JobQueue",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Backtest",
            dependencies: [
                "ScalperCore", "Trading", "Features", "Model", "LinearAlgebra",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: computeSettings
        ),

        // The runs database on PostgreSQL (`--runs-db postgres://…`): RunDatabase's tables plus each
        // run's files, so every machine reads every run.
        .target(
            name: "PostgresRuns",
            dependencies: [
                "Backtest", "JobQueue", "Trading",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Retraining",
            dependencies: ["ScalperCore", "Features", "Model", "Registry", "Backtest", "Trading", "LinearAlgebra"],
            swiftSettings: computeSettings
        ),

        // A running session's page, its live updates and /metrics.
        .target(
            name: "Dashboard",
            dependencies: [
                "Session", "Trading", "Backtest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Web")],
            swiftSettings: swiftSettings
        ),

        // MARK: - CLI (a thin shell)
        .executableTarget(
            name: "scalper",
            dependencies: [
                "ScalperCore", "MarketData", "Features", "Model", "Registry", "Retraining", "Trading", "Backtest", "Scanner", "Exchange", "Session",
                "Dashboard", "LinearAlgebra", "XGBoost", "Research", "JobQueue", "PostgresRuns",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests
        .target(
            name: "ScalperTestSupport",
            dependencies: [
                "ScalperCore", "MarketData",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ScalperTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "ScalperTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "XGBoostTests", dependencies: ["XGBoost"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["Registry", "Model", "ScalperCore", "ScalperTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RetrainingTests",
            dependencies: ["Retraining", "Registry", "Model", "Backtest", "Features", "LinearAlgebra", "ScalperCore", "ScalperTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FeaturesTests",
            dependencies: ["Features", "LinearAlgebra", "ScalperCore", "ScalperTestSupport", "MarketData"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ModelTests",
            dependencies: ["Model", "Features", "LinearAlgebra", "ScalperCore", "ScalperTestSupport", "XGBoost"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScannerTests",
            dependencies: ["Scanner", "Binance", "ScalperTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExchangeTests",
            dependencies: [
                "Exchange", "Binance", "Scanner", "MarketData", "ScalperCore", "ScalperTestSupport", "Features",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BinanceTests",
            dependencies: [
                "Binance", "Exchange", "MarketData", "ScalperCore", "ScalperTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "BacktestTests", dependencies: ["Backtest", "Trading", "Research", "ScalperCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ResearchTests", dependencies: ["Research"], swiftSettings: swiftSettings),
        .testTarget(name: "JobQueueTests", dependencies: ["JobQueue", "ScalperTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PostgresRunsTests",
            dependencies: [
                "PostgresRuns", "Backtest", "JobQueue", "Trading", "ScalperTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TradingTests",
            dependencies: ["Trading", "ScalperCore", "ScalperTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SessionTests",
            dependencies: [
                "Session", "Trading", "ScalperCore", "ScalperTestSupport", "Exchange", "Binance", "MarketData",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard", "Session", "Trading", "ScalperTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MarketDataTests",
            dependencies: [
                "MarketData", "ScalperCore", "ScalperTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScalperCLITests",
            dependencies: [
                "scalper", "ScalperTestSupport", "MarketData", "ScalperCore", "Features", "Session", "Registry", "Binance", "Dashboard",
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
