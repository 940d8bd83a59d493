import Foundation

/// `Tests/Fixtures`, found from this file's path (fixtures are files in the repository, written by the
/// Python scripts beside them, not SwiftPM resources).
public let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A checked-in fixture: `fixtureURL("safetensors/dtypes.safetensors")`.
public func fixtureURL(_ relativePath: String) -> URL { fixturesDirectory.appendingPathComponent(relativePath) }
