import Foundation

/// `Tests/Fixtures`, found from this file's path (fixtures are files in the repository, not SwiftPM resources).
public let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
