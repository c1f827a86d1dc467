// swift-tools-version:6.2
import PackageDescription

// Modules are cut by dependency weight: the domain knows no HTTP or SQL, the store knows
// SQL, the API knows HTTP, the client knows only the generated contract. Which of them may
// depend on which is written down once, in scripts/module-graph.txt, which `make test` checks.

let package = Package(
    name: "server4agent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "s4a", targets: ["s4a"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        // The dashboard's templates: Hummingbird's own Mustache engine (HTML-escapes by default).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Pure logic and the protocols at its boundaries: no HTTP, no SQL.
        .target(
            name: "S4ADomain",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]
        ),
        // The SQL store: one repository implementation over SQLite or PostgreSQL.
        .target(
            name: "S4AStore",
            dependencies: [
                "S4ADomain",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The system's zlib, for gzip-compressing exports as they stream: a module map over a
        // library every Linux host has (zlib1g-dev for the header), not another package.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // openat2(2), which glibc 2.36 does not wrap: a header-only shim over the raw system call,
        // so the runtime can resolve paths strictly inside a server's root.
        .systemLibrary(name: "CS4ASys"),
        // Isolation: servers as runc containers on per-server disks.
        .target(
            name: "S4ARuntime",
            dependencies: ["S4ADomain", "CS4ASys", .product(name: "Logging", package: "swift-log")]
        ),
        // Local CA and TLS server configuration.
        .target(
            name: "S4ATLS",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // An ACME (RFC 8555) client: obtains certificates for the API host and app hosts by HTTP-01.
        .target(
            name: "S4AACME",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Types generated from the OpenAPI document, shared by server and client.
        .target(
            name: "S4AContract",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            resources: [.copy("openapi.yaml")],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The web boundary, shared by the API and the dashboard: a domain error's HTTP status and
        // problem+json (Hummingbird's HTTPResponseError), the session cookie (over Hummingbird's
        // Cookie), the CSRF guard and the idempotency middleware.
        .target(
            name: "S4AWeb",
            dependencies: [
                "S4ADomain", "S4AContract",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The dashboard: server-rendered pages over the domain services, for people.
        .target(
            name: "S4ADashboard",
            dependencies: [
                "S4ADomain", "S4AWeb",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Templates"), .copy("Static")]
        ),
        // The control plane's HTTP surface: the contract's handlers and their middleware, the
        // ingress to apps, the shell's WebSocket. Neither the dashboard nor MCP: the composition
        // root puts them beside it.
        .target(
            name: "S4AAPI",
            dependencies: [
                "S4ADomain", "S4AContract", "S4AWeb", "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                // The ingress's client side, to apps inside servers.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                // Streams that end at a graceful shutdown.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The composition root: builds every service once and serves the API, the dashboard and
        // /mcp over TLS, with the background jobs (metering, health, retention, drains, ACME).
        .target(
            name: "S4AServer",
            dependencies: [
                "S4AAPI", "S4AWeb", "S4ADashboard", "S4AMCP", "S4AClient", "S4ADomain", "S4AContract", "S4AStore",
                "S4ARuntime", "S4ATLS", "S4AACME",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                // Log drains' HTTPS client.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The typed client the CLI (and later the MCP server) uses.
        .target(
            name: "S4AClient",
            dependencies: [
                "S4AContract",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // The shell's WebSocket (hummingbird-websocket's client, already built for the server side).
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The MCP server: the API's operations as tools for agents, each a call through the
        // typed client with the caller's key. Its own module: MCP's Server/Request/Response
        // would clash with Hummingbird's.
        .target(
            name: "S4AMCP",
            dependencies: [
                "S4AClient",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "S4ACLI",
            dependencies: [
                "S4ADomain", "S4AStore", "S4AServer", "S4AClient", "S4ARuntime", "S4AMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "s4a", dependencies: ["S4ACLI"]),
        .testTarget(name: "S4ADomainTests", dependencies: ["S4ADomain"]),
        .testTarget(
            name: "S4AWebTests",
            dependencies: ["S4AWeb", "S4ADomain", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
        .testTarget(name: "S4ADashboardTests", dependencies: ["S4ADashboard", "S4AWeb", "S4ADomain"]),
        .testTarget(name: "S4AStoreTests", dependencies: ["S4AStore", "S4ADomain", "S4ATestSupport"]),
        // An in-memory ContainerRuntime for tests of the services' logic, a clock moved by hand,
        // and the tags naming what a suite needs from the machine (runc, postgres, pebble, browser).
        .target(name: "S4ATestSupport", dependencies: ["S4ADomain"], path: "Tests/S4ATestSupport"),
        .testTarget(name: "S4AServiceTests", dependencies: ["S4ATestSupport", "S4AStore", "S4ADomain"]),
        .testTarget(
            name: "S4AMCPTests",
            dependencies: ["S4AMCP", "S4AClient", "S4AContract", .product(name: "MCP", package: "swift-sdk"),
                           .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(name: "S4ARuntimeTests", dependencies: ["S4ARuntime", "S4ADomain", "S4ATestSupport"]),
        .testTarget(
            name: "S4AACMETests",
            dependencies: [
                "S4AACME", "S4ATLS", "S4ATestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "S4AAPITests",
            dependencies: [
                "S4AServer", "S4AAPI", "S4AWeb", "S4ACLI", "S4AClient", "S4ATestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ]
        ),
    ]
)
