// swift-tools-version:6.1
// libFuzzer harnesses (issue 18): a package of its own, built with the fuzzer and address sanitizers
// by Scripts/fuzz.sh, so that the main package's builds never carry the instrumentation. Each target
// feeds one input to one reader of untrusted bytes and checks what must hold for every input: no crash,
// no leak of memory safety, and a round trip where one exists. Corpora in Fuzz/Corpus/TARGET.
import PackageDescription

let package = Package(
    name: "LinliFuzz",
    dependencies: [.package(name: "Linli", path: "../")],
    targets: [
        // libFuzzer's entry points, shared by every harness.
        .target(name: "FuzzDriver", path: "Sources/FuzzDriver"),
        .executableTarget(name: "fuzz-json", dependencies: ["FuzzDriver", .product(name: "Linli", package: "Linli")], path: "Sources/fuzz-json"),
        .executableTarget(name: "fuzz-cbor", dependencies: ["FuzzDriver", .product(name: "Linli", package: "Linli")], path: "Sources/fuzz-cbor"),
        .executableTarget(
            name: "fuzz-record", dependencies: ["FuzzDriver", .product(name: "LinliStore", package: "Linli"), .product(name: "Linli", package: "Linli")],
            path: "Sources/fuzz-record"),
        .executableTarget(name: "fuzz-apply", dependencies: ["FuzzDriver", .product(name: "Linli", package: "Linli")], path: "Sources/fuzz-apply"),
    ]
)
