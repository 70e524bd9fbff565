// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Cartograph",
    products: [
        .executable(name: "cartograph", targets: ["cartograph"]),
        .library(name: "CartographCore", targets: ["CartographCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries, found through pkg-config; the providers name the Debian packages.
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        // The PostgreSQL client library, for the team store (docs/store.md).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // TLS for probes: OpenSSL behind a handle and status codes.
        .target(name: "CTLSShims", dependencies: ["COpenSSL"]),
        // The few C helpers Swift cannot call directly: Lua macros, the Lua sandbox hooks and
        // allocator, and the probes' regex API over PCRE2 with match limits.
        .target(name: "CShims", dependencies: ["CLua", "CPCRE2"]),
        // Probe worker processes: posix_spawn, rlimits, and the shared step slot the parent watches.
        .target(name: "CWorkerShims", dependencies: ["CLua"]),
        // epoll, which Swift's Glibc module does not export.
        .target(name: "CIOShims"),

        // Pure model: targets, address sets, profiles, plans, results. No I/O.
        .target(name: "CartographCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Non-blocking sockets and an epoll reactor shared by the scanners and the probe runtime.
        .target(name: "CartographIO", dependencies: ["CartographCore", "CIOShims"]),
        // Host sweep and port discovery engines.
        .target(name: "CartographNet", dependencies: ["CartographCore", "CartographIO", "CPcap"]),
        // The Lua probe runtime, loader and identification pipeline.
        .target(name: "CartographProbes", dependencies: ["CartographCore", "CartographIO", "CLua", "CShims", "CTLSShims", "CWorkerShims"]),
        // Name resolution. For now the system resolver; DNS discovery proper comes later.
        .target(name: "CartographDNS", dependencies: ["CartographCore", "CartographIO"]),
        // Renderers (json, text, csv, nmap XML, html) and map comparison.
        .target(name: "CartographReport", dependencies: ["CartographCore"]),
        // The map store, one protocol: a SQLite file through GRDB (the default) or PostgreSQL
        // through libpq (teams), each with migrations from the first schema on.
        .target(name: "CartographStore", dependencies: ["CartographCore", "CLibPQ", .product(name: "GRDB", package: "GRDB.swift")]),
        // Map-complete notifications: e-mail over SMTP and signed webhooks, TLS through CTLSShims.
        .target(name: "CartographNotify", dependencies: ["CartographCore", "CartographIO", "CTLSShims", "COpenSSL"]),
        // The core scheduler: a pipeline of overlapping stages that assembles each map's result.
        .target(
            name: "CartographEngine",
            dependencies: ["CartographCore", "CartographDNS", "CartographIO", "CartographNet", "CartographProbes"]
        ),
        // One invocation's maps, run and kept (store rows, checkpoints, stamps, trend,
        // notifications): the command line hosts it, and so will a scanner agent.
        .target(
            name: "CartographSession",
            dependencies: ["CartographCore", "CartographEngine", "CartographReport", "CartographStore", "CartographNotify"]
        ),
        .executableTarget(
            name: "cartograph",
            dependencies: [
                "CartographCore", "CartographDNS", "CartographEngine", "CartographIO", "CartographNet", "CartographProbes", "CartographReport",
                "CartographStore", "CartographNotify", "CartographSession",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "CartographTestSupport", path: "Tests/CartographTestSupport"),
        .testTarget(name: "CartographCoreTests", dependencies: ["CartographCore", "CartographReport"]),
        .testTarget(name: "CartographStoreTests", dependencies: ["CartographCore", "CartographStore", "CartographTestSupport"]),
        .testTarget(name: "CartographDNSTests", dependencies: ["CartographCore", "CartographDNS", "CartographTestSupport"]),
        .testTarget(name: "CartographNetTests", dependencies: ["CartographCore", "CartographNet"]),
        .testTarget(name: "CartographSessionTests", dependencies: ["CartographCore", "CartographEngine", "CartographProbes", "CartographSession", "CartographStore"]),
        .testTarget(name: "CartographEngineTests", dependencies: ["CartographCore", "CartographEngine", "CartographNet", "CartographProbes"]),
        .testTarget(
            name: "CartographNotifyTests",
            dependencies: ["CartographNotify", "CartographCore", "CartographTestSupport"],
            // The Python mail and HTTP servers the tests start; run from the source tree.
            exclude: ["Servers"]
        ),
        .testTarget(name: "CartographProbesTests", dependencies: ["CartographCore", "CartographProbes", "CartographTestSupport"]),
        .testTarget(name: "CartographCLITests", dependencies: ["CartographCore", "CartographTestSupport", "cartograph"]),
        .testTarget(
            name: "CartographLabTests",
            dependencies: ["CartographCore", "CartographTestSupport", "cartograph"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
