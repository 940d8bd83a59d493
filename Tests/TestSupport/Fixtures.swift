import Foundation

/// A checked-in fixture under `Tests/Fixtures/`, found from this source file's path (no SwiftPM resources):
/// `fixtureURL("safetensors/dtypes.safetensors")`. The fixtures are written by the Python scripts beside them.
public func fixtureURL(_ relativePath: String) -> URL {
    URL(fileURLWithPath: #filePath)      // Tests/TestSupport/Fixtures.swift
        .deletingLastPathComponent()     // Tests/TestSupport
        .deletingLastPathComponent()     // Tests
        .appendingPathComponent("Fixtures")
        .appendingPathComponent(relativePath)
}
