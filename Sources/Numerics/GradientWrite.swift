/// How a backward writes an input gradient: `accumulate` adds into what the buffer holds (dx += ..., the
/// default everywhere), `overwrite` replaces it (dx = ...), which spares the caller a pass that zeroes the
/// buffer first and the kernel a read of it.
public enum GradientWrite: Sendable {
    case accumulate
    case overwrite
}
