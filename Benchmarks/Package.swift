// swift-tools-version:6.1
// Linli's benchmarks: a package of its own, so that users' and CI's builds of Linli never compile the
// benchmark tooling. Each suite measures Linli beside a raw-LMDB baseline doing the same work in the
// same run; Scripts/benchmarks.sh turns the figures into ratios.
import PackageDescription

let package = Package(
    name: "LinliBenchmarks",
    dependencies: [
        .package(name: "Linli", path: "../"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        // SHA-256 for the raw baselines that hash what they read, as Linli does (the same package Linli uses).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "LinliStore", package: "Linli"), .product(name: "Linli", package: "Linli"), .product(name: "CLMDB", package: "Linli"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/BenchmarkSupport"
        ),
        .executableTarget(
            name: "LogBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "LinliStore", package: "Linli"),
            ],
            path: "Benchmarks/LogBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "LedgerBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Linli", package: "Linli"),
            ],
            path: "Benchmarks/LedgerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "DeliberationBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Linli", package: "Linli"),
            ],
            path: "Benchmarks/DeliberationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "EldersBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Linli", package: "Linli"),
            ],
            path: "Benchmarks/EldersBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "AuditBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Linli", package: "Linli"),
            ],
            path: "Benchmarks/AuditBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
