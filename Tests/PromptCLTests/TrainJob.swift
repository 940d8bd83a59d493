import Foundation
import XCTest

/// A `promptcl train` job (or any other `promptcl` command) run as real processes: the built binary alone,
/// or under `launch/mpirun -np N` (never `mpirun swift test`). The binary is the one next to this test bundle (`swift build --build-tests`).
struct TrainJob {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
        let out: URL
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL { Bundle.main.bundleURL.appendingPathComponent("promptcl") }

    /// Runs `promptcl train --config CONFIG --out OUT [--set ...]` with `ranks` MPI ranks (nil: no mpirun),
    /// 1 OpenBLAS thread per rank. Kills the job and fails the test after `timeout` seconds.
    static func run(config: URL, out: URL, ranks: Int?, overrides: [String] = [], environment: [String: String] = [:],
                    timeout: Double = 300, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        var arguments = ["train", "--config", config.path, "--out", out.path]
        for override in overrides { arguments += ["--set", override] }
        return try promptcl(arguments, ranks: ranks, logs: out, environment: environment, timeout: timeout,
                            file: file, line: line)
    }

    /// Runs the built `promptcl` with `arguments` on `ranks` MPI ranks (nil: no mpirun), 1 OpenBLAS thread per
    /// rank; stdout and stderr go to `LOGS.stdout` and `LOGS.stderr` (`out` of the result is `logs`). Kills the
    /// job and fails the test after `timeout` seconds.
    static func promptcl(_ arguments: [String], ranks: Int?, logs: URL, environment: [String: String] = [:],
                         timeout: Double = 300, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        try start(arguments, ranks: ranks, logs: logs, environment: environment).wait(timeout: timeout, file: file, line: line)
    }

    /// A job started and not yet waited for (its process is mpirun itself under `launch/mpirun`, which execs it).
    struct Running {
        let process: Process
        let arguments: [String]
        let ranks: Int?
        let logs: URL
        let stdoutURL: URL
        let stderrURL: URL
        let handles: [FileHandle]
        let started: Date

        /// Waits for the job (killing it and failing the test after `timeout` seconds) and reads its output.
        func wait(timeout: Double = 300, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
            defer { for handle in handles { try? handle.close() } }
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning {
                process.terminate()
                XCTFail("promptcl \(arguments) on \(ranks.map(String.init) ?? "no mpirun") did not end within "
                        + "\(timeout) s: killed", file: file, line: line)
            }
            process.waitUntilExit()
            let seconds = Date().timeIntervalSince(started)
            return Result(status: process.terminationStatus, stdout: try String(contentsOf: stdoutURL, encoding: .utf8),
                          stderr: try String(contentsOf: stderrURL, encoding: .utf8), seconds: seconds, out: logs)
        }
    }

    /// Starts the built `promptcl` as `promptcl(...)` does, without waiting.
    static func start(_ arguments: [String], ranks: Int?, logs: URL, environment: [String: String] = [:]) throws -> Running {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("no promptcl binary at \(binary.path): build with swift build --build-tests")
        }
        let process = Process()
        if let ranks {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [repositoryRoot.appendingPathComponent("launch/mpirun").path, "-np", String(ranks),
                                 "promptcl"] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        // Not the MPI environment of this test process (a singleton once a test used ProcessGroup): a
        // child that inherits OMPI_/PMIX_ variables would try to join this process's job.
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "PMI_", "OPAL_"].contains { key.hasPrefix($0) }
        }
        env["PROMPTCL_BIN"] = binary.path
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        // Output goes to files beside the run (a pipe nobody drains would block the job).
        let folder = logs.deletingLastPathComponent()
        let stdoutURL = folder.appendingPathComponent(logs.lastPathComponent + ".stdout")
        let stderrURL = folder.appendingPathComponent(logs.lastPathComponent + ".stderr")
        for url in [stdoutURL, stderrURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let stdout = try FileHandle(forWritingTo: stdoutURL), stderr = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = stdout
        process.standardError = stderr
        let started = Date()
        try process.run()
        return Running(process: process, arguments: arguments, ranks: ranks, logs: logs, stdoutURL: stdoutURL,
                       stderrURL: stderrURL, handles: [stdout, stderr], started: started)
    }

    /// The "step" lines of a run's metrics.jsonl, in order.
    static func stepLosses(_ out: URL) throws -> [Float] {
        let text = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line -> Float? in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard object?["event"] as? String == "step" else { return nil }
            return (object?["loss"] as? NSNumber)?.floatValue
        }
    }
}
