// swift-tools-version: 6.1
import PackageDescription

// Layers, bottom up:
//   CRabbitMQ, CLibXML2, COpenSSL   C bridges (system libraries); only the wrapper layer imports them
//   AMQPClient            a Swift AMQP 0-9-1 client over rabbitmq-c (one owner thread per connection)
//   HTTPTransport         blocking HTTP/1.1 client and server over OpenSSL (mutual TLS, keep-alive)
//   XMLSupport            hardened libxml2 parsing, namespace-aware XPath, schema validation
//   CPISDomain            CP-IS and SMSP: NHS numbers, requesters, answers, the SOAP request and response
//   Settings              one reader of settings: the YAML file, CPIS_* environment variables, secrets from files
//   Observability         log lines (text or JSON, NHS numbers masked) and the metadata keys
//   SMSPSimulator         a CP-IS SMSP endpoint's behaviour (test tool checks, answers, history, faults)
//   Worker                the lookup worker: intake, bounded SMSP calls, retries, results, notifications
//   FrontDoor             the SMSP CP-IS API served to care providers' systems, relayed to the workers
//   cpis                  the one executable; subcommands
//   cpis-bench            benchmarks that print figures (run by Deploy/benchmark.sh)
//   fuzz-*                libFuzzer targets for the readers of untrusted input, timestamps among them (run by Deploy/fuzz.sh)
let strictSwift: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "cpis-smsp",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cpis", targets: ["cpis"]),
        .library(name: "AMQPClient", targets: ["AMQPClient"]),
        .library(name: "XMLSupport", targets: ["XMLSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .target(
            name: "AMQPClient",
            dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "XMLSupport",
            dependencies: ["CLibXML2"],
            swiftSettings: strictSwift
        ),
        .target(
            name: "HTTPTransport",
            dependencies: ["COpenSSL", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "CPISDomain",
            dependencies: ["XMLSupport"],
            swiftSettings: strictSwift
        ),
        .target(
            name: "Settings",
            dependencies: [.product(name: "Configuration", package: "swift-configuration"),
                           .product(name: "SystemPackage", package: "swift-system"), "Yams"],
            swiftSettings: strictSwift
        ),
        .target(
            name: "Observability",
            dependencies: ["CPISDomain", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SMSPSimulator",
            dependencies: ["CPISDomain", "HTTPTransport", "Settings", "XMLSupport", "Yams",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "Worker",
            dependencies: ["AMQPClient", "CPISDomain", "HTTPTransport", "Observability", "Settings", "Yams",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "FrontDoor",
            dependencies: ["AMQPClient", "CPISDomain", "HTTPTransport", "Observability", "Settings", "Worker", "XMLSupport",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "cpis",
            dependencies: [
                "AMQPClient",
                "CPISDomain",
                "FrontDoor",
                "HTTPTransport",
                "Observability",
                "Settings",
                "SMSPSimulator",
                "Worker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "cpis-bench",
            dependencies: [
                "AMQPClient",
                "CPISDomain",
                "Worker",
                "HTTPTransport",
                "SMSPSimulator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            swiftSettings: strictSwift
        ),
        // Shared by the test targets: the real broker (Deploy/test.sh starts one), development certificates,
        // hostile XML documents and the watchers that show a parser fetched nothing.
        .target(name: "TestSupport",
                dependencies: ["AMQPClient", "HTTPTransport", .product(name: "Logging", package: "swift-log")],
                path: "Tests/TestSupport", swiftSettings: strictSwift),
        .testTarget(name: "AMQPClientTests", dependencies: ["AMQPClient", "TestSupport"],
                    swiftSettings: strictSwift),
        .testTarget(name: "HTTPTransportTests", dependencies: ["HTTPTransport", "TestSupport"], swiftSettings: strictSwift),
        .testTarget(name: "CPISDomainTests", dependencies: ["CPISDomain", "XMLSupport"], swiftSettings: strictSwift),
        // Drives the built `cpis` executable as a person would (it is built with the tests).
        .testTarget(name: "cpisTests", dependencies: ["CPISDomain"], swiftSettings: strictSwift),
        .testTarget(name: "SMSPSimulatorTests", dependencies: ["SMSPSimulator", "CPISDomain", "TestSupport"],
                    swiftSettings: strictSwift),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "FrontDoor", "TestSupport", "SMSPSimulator", "HTTPTransport", "Yams",
                                                       .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                    swiftSettings: strictSwift),
        .testTarget(name: "SettingsTests", dependencies: ["Settings"], swiftSettings: strictSwift),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability", "CPISDomain"], swiftSettings: strictSwift),
        .testTarget(name: "XMLSupportTests", dependencies: ["XMLSupport", "TestSupport"], swiftSettings: strictSwift),
        .testTarget(name: "DeployKitTests", dependencies: ["Worker", "FrontDoor", "Settings", "Yams"], swiftSettings: strictSwift),
    ]
    // libFuzzer targets, one per reader of untrusted input (folder in Sources/Fuzz, and the module
    // it reads with): Deploy/fuzz.sh builds them with -sanitize=fuzzer and runs them; a plain build
    // only compiles and links them.
    + [("http-request", "HTTPTransport"), ("http-response", "HTTPTransport"), ("smsp-request", "CPISDomain"),
       ("smsp-response", "CPISDomain"), ("spine-response", "CPISDomain"), ("lookup-json", "CPISDomain"),
       ("timestamp", "CPISDomain")].map { folder, module in
        .executableTarget(name: "fuzz-\(folder)", dependencies: [.target(name: module)], path: "Sources/Fuzz/\(folder)",
                          swiftSettings: strictSwift)
    }
)
