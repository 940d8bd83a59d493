import ArgumentParser
import Numerics

/// `promptcl`: prompt-based continual learning for CLIP, on CPUs, over MPI.
@main
struct PromptCL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promptcl",
        abstract: "Prompt-based continual learning for vision-language models (CLIP) on CPU clusters.",
        subcommands: [Doctor.self, PrepareCommand.self, PretrainCommand.self, TrainCommand.self, ReportCommand.self,
                      EmbedCommand.self, InspectCommand.self, BenchCommand.self]
    )

    /// OpenBLAS's idle workers are told to sleep at once (`OpenBLASIdleWorkers`) before any command runs.
    static func main() {
        OpenBLASIdleWorkers.sleepPromptly()
        main(nil)
    }
}
