// swift-tools-version:6.0
// Linli (邻里): an embedded, event-sourced engine for neighbourhood governance, on LMDB.
// The layout shows the architecture: CLMDB (C) → LinliStore (the log, no domain knowledge)
// → Linli (the domains) → LinliCLI (the command line `linli`, thin).
import PackageDescription

let package = Package(
    name: "Linli",
    products: [
        // CLMDB is a product only so that Benchmarks/ can run raw-LMDB baselines with the same C library.
        .library(name: "CLMDB", targets: ["CLMDB"]),
        .library(name: "LinliStore", targets: ["LinliStore"]),
        .library(name: "Linli", targets: ["Linli"]),
        .executable(name: "linli", targets: ["LinliCLI"]),
        .executable(name: "linli-fixtures", targets: ["linli-fixtures"]),
    ],
    dependencies: [
        // The CLI's subcommands, help, completions and exit codes (issue 6).
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 for the hash chain: BoringSSL's assembly (SHA-NI where the CPU has it) runs several
        // times faster than a portable Swift implementation, and replay speed is bounded by it.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(
            name: "LinliStore",
            dependencies: [
                "CLMDB",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The tests' fault-injection hook (a commit made to fail) exists in debug builds only.
            swiftSettings: [.define("LINLI_FAULT_INJECTION", .when(configuration: .debug))]
        ),
        // The strict JSON reader and writer and the CBOR codec, hand-written (docs/DECISIONS.md, "The
        // codecs"): the only unsafe pointer work above the store, whose UTF-8 validation they share.
        .target(name: "LinliCodec", dependencies: ["LinliStore"]),
        .target(
            name: "Linli",
            dependencies: ["LinliStore", "LinliCodec"]
        ),
        // The command line, thin. Its folder is LinliCLI (not linli) so that no two folders differ only by
        // case on a case-insensitive file system; the executable it builds is still `linli`.
        .executableTarget(
            name: "LinliCLI",
            dependencies: [
                "Linli",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The pilots' fixture generator (issue 8): deterministic NDJSON for the three communities.
        .executableTarget(
            name: "linli-fixtures",
            dependencies: [
                "Linli",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A child process for the crash and multi-process tests: it appends and acknowledges batches
        // until it is killed. Not a product; only the tests run it.
        .executableTarget(
            name: "linli-crashtest",
            dependencies: ["LinliStore"]
        ),
        // Temporary folders, seeded randomness and child processes, shared by the test targets.
        .target(name: "LinliTestSupport", path: "Tests/Support"),
        .testTarget(
            name: "LinliStoreTests", dependencies: ["LinliStore", "LinliTestSupport"],
            swiftSettings: [.define("LINLI_FAULT_INJECTION", .when(configuration: .debug))]),
        .testTarget(name: "LinliCodecTests", dependencies: ["LinliCodec"]),
        .testTarget(name: "LinliTests", dependencies: ["Linli", "LinliTestSupport"]),
        .testTarget(name: "LinliCLITests", dependencies: ["Linli", "LinliTestSupport"]),
    ]
)
