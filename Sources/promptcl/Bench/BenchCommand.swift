import ArgumentParser

/// `promptcl bench`: measurements that speed and memory targets are judged by (never timed tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training steps against the machine's sgemm rate.",
        subcommands: [BenchStepCommand.self]
    )
}
