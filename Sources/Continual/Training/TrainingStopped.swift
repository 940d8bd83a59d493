/// The run stopped on request (a stop signal on some rank) after rank 0 wrote a checkpoint: not a failure.
/// Every rank throws it at the same step; `promptcl train` then exits with `exitStatus`.
public struct TrainingStopped: Error, CustomStringConvertible {
    /// EX_TEMPFAIL (sysexits.h): "try again later"; cluster/ batch scripts requeue the job on it.
    public static let exitStatus: Int32 = 75

    public let signal: Int32
    public let checkpoint: String
    public let globalStep: Int

    public var description: String {
        "stopped on \(StopSignals.name(signal)) after \(globalStep) steps; checkpoint \(checkpoint) written: "
            + "continue with --resume auto (exit status \(Self.exitStatus))"
    }
}
