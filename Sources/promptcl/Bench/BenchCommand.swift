import ArgumentParser

/// `promptcl bench`: measurements that speed and memory targets are judged by (never timed tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training steps and evaluation against the machine's sgemm rate, NSP2's null-space update, and LPI-P's fusion.",
        subcommands: [BenchStepCommand.self, BenchEvalCommand.self, BenchNullSpaceCommand.self, BenchLPIPCommand.self]
    )
}
