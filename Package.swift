// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PromptCL",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "promptcl", targets: ["promptcl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: System libraries (pkg-config names from Debian 12's -dev packages)
        .systemLibrary(name: "CMPI", pkgConfig: "ompi",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CScaLAPACK", pkgConfig: "scalapack-openmpi",
                       providers: [.apt(["libscalapack-openmpi-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libjpeg(-turbo) behind a C shim, because its error handling needs setjmp/longjmp (libjpeg62-turbo-dev)
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),

        // MARK: Library modules (dependencies point one way: Numerics <- CLIP <- Prompting <- Continual <- promptcl;
        // Distributed beside them)
        // Numerics is optimised in debug builds too: its SIMD kernels run 40 times slower unoptimised, and the tests
        // (debug) train small models through them.
        .target(name: "Numerics", dependencies: ["COpenBLAS"],
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "CLIP", dependencies: ["Numerics"], resources: [.copy("Resources/clip-vocabulary")]),
        .target(name: "Distributed", dependencies: ["CMPI", "CScaLAPACK", "CLAPACKE", "Numerics"]),
        .target(name: "Prompting", dependencies: ["CLIP", "Numerics", "CLAPACKE"]),
        .target(name: "Continual", dependencies: [
            "CLIP", "Numerics", "Distributed", "Prompting", "CZlib", "CJPEG",
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),

        // MARK: Command-line tool
        .executableTarget(name: "promptcl", dependencies: [
            "Numerics", "CLIP", "Distributed", "Prompting", "Continual", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["Numerics"], path: "Tests/TestSupport"),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics", "TestSupport"]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIP", "Numerics", "TestSupport"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "CLIP", "Numerics", "TestSupport"]),
        .testTarget(name: "PromptingTests", dependencies: ["Prompting", "CLIP", "Numerics", "TestSupport", "CLAPACKE"]),
        .testTarget(name: "ContinualTests", dependencies: [
            "Continual", "CLIP", "Numerics", "TestSupport", .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        .testTarget(name: "PromptCLTests", dependencies: ["promptcl", "CLIP", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
