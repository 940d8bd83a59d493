import Foundation
import Synchronization

/// The last stop signal this process received (0: none), set from the signal handler.
private let receivedStopSignal = Atomic<Int32>(0)

/// SIGUSR1 and SIGTERM as requests to stop: the handler only records the signal; the trainer reads it at the
/// next step boundary, agrees with the other ranks (any rank's request stops them all), writes a checkpoint and
/// the process exits with `TrainingStopped.exitStatus` (75), which batch scripts take as "requeue me".
///
/// Slurm sends SIGTERM before it kills a job that is pre-empted or out of time, and `--signal=USR1@SECONDS`
/// sends SIGUSR1 earlier; `mpirun` forwards SIGUSR1 to its ranks (for SIGTERM it kills them after a short
/// grace, so send SIGUSR1 to an mpirun job).
public enum StopSignals {
    public static let handled: [Int32] = [SIGUSR1, SIGTERM]

    /// Installs the handler for `handled` (idempotent).
    public static func install() {
        for signal in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { receivedStopSignal.store($0, ordering: .relaxed) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }

    /// The signal received since the process started, or 0.
    public static var received: Int32 { receivedStopSignal.load(ordering: .relaxed) }

    /// The signal's name ("SIGUSR1"), for messages.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGUSR1: "SIGUSR1"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }
}
