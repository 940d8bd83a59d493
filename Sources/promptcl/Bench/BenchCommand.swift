import ArgumentParser

/// `promptcl bench`: measurements that speed and memory targets are judged by (never timed tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training steps and evaluation against the machine's sgemm rate, NSP2's null-space update, "
            + "LPI-P's fusion, and the gradient all-reduce hidden behind the backward.",
        subcommands: [BenchStepCommand.self, BenchEvalCommand.self, BenchNullSpaceCommand.self, BenchLPIPCommand.self,
                      BenchAllreduceCommand.self]
    )
}
