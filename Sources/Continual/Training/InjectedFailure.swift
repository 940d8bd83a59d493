import Foundation

/// A deliberate fault on one rank, for testing that a failing or killed rank ends the whole job and that the
/// checkpoints survive it. Set by the environment: `PROMPTCL_INJECT_FAILURE=RANK:STEP[:MODE]` (global step,
/// from 0):
/// ```
/// error                (default) the rank throws before step STEP: the job ends with the error
/// kill                 the rank sends itself SIGKILL before step STEP (a node lost mid-training)
/// kill-in-checkpoint   the rank sends itself SIGKILL while writing the first checkpoint at or after step STEP,
///                      after its tensors file and before state.json (rank 0 only writes checkpoints)
/// signal               the rank sends itself SIGUSR1 before step STEP: the job stops after that step with a
///                      checkpoint, as on a pre-emption notice, at a step a test can choose
/// ```
public struct InjectedFailure: Equatable, Sendable {
    public static let environmentKey = "PROMPTCL_INJECT_FAILURE"

    public enum Mode: String, Sendable, CaseIterable {
        case error, kill, signal
        case killInCheckpoint = "kill-in-checkpoint"
    }

    /// Where the trainer asks whether the fault is due.
    public enum Moment: Sendable {
        case step, checkpointWrite
    }

    public let rank: Int
    public let globalStep: Int
    public let mode: Mode

    public init(rank: Int, globalStep: Int, mode: Mode = .error) {
        self.rank = rank
        self.globalStep = globalStep
        self.mode = mode
    }

    /// The failure the environment asks for, nil when the variable is unset; throws when it is malformed.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> InjectedFailure? {
        guard let value = environment[environmentKey] else { return nil }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, let rank = Int(parts[0]), let step = Int(parts[1]), rank >= 0, step >= 0,
              let mode = parts.count == 3 ? Mode(rawValue: String(parts[2])) : .error else {
            throw TrainingError("\(environmentKey)=\(value): expected RANK:STEP[:MODE], two integers >= 0 and a mode of "
                                + Mode.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return InjectedFailure(rank: rank, globalStep: step, mode: mode)
    }

    /// Fires the fault when it is due on `rank` at `globalStep` and `moment`: throws (mode error), kills the
    /// process (SIGKILL: no handler, no flush, no MPI_Finalize) or raises SIGUSR1 (mode signal).
    func killIfDue(rank: Int, globalStep: Int, during moment: Moment) throws {
        guard rank == self.rank else { return }
        switch (mode, moment) {
        case (.error, .step) where globalStep == self.globalStep:
            throw TrainingError("injected failure at global step \(globalStep) (\(Self.environmentKey)="
                                + "\(self.rank):\(self.globalStep))")
        case (.kill, .step) where globalStep == self.globalStep,
             (.killInCheckpoint, .checkpointWrite) where globalStep >= self.globalStep:
            kill(getpid(), SIGKILL)
        case (.signal, .step) where globalStep == self.globalStep:
            raise(SIGUSR1)
        default:
            return
        }
    }
}
