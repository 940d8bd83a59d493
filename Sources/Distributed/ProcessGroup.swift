import CMPI
import Foundation

/// The MPI ranks of this job (MPI_COMM_WORLD): rank, size, collectives, and a job-wide abort.
///
/// ```
/// let group = ProcessGroup.world        // initialises MPI once per process, finalises it at exit
/// group.allreduceSum(&gradients)        // every rank now holds the sum over ranks
/// group.log0("step \(step)")            // printed by rank 0 only
/// ```
/// A binary started without `mpirun` is a group of size 1 (an MPI singleton), so callers never branch
/// on how the job was launched; rank and size come from MPI under `mpirun`, `srun --mpi=pmix` or alone.
///
/// Errors: MPI_COMM_WORLD returns error codes (MPI_ERRORS_RETURN) and every call is checked here. A failed
/// call prints the MPI error string with the rank, file and line, then aborts the whole job (MPI_Abort):
/// a failure on one rank ends every rank, it never leaves the others waiting in a collective.
///
/// Threads: MPI is initialised with MPI_THREAD_FUNNELED. Call the collectives from the main thread only;
/// other threads (OpenBLAS, `concurrentPerform`) compute but never talk to MPI.
public final class ProcessGroup: @unchecked Sendable {
    /// MPI_COMM_WORLD. The first access initialises MPI (`MPI_Init_thread`, FUNNELED) unless something
    /// else already did, and registers `MPI_Finalize` to run at process exit.
    public static let world = ProcessGroup(initialisingWorld: ())

    /// This process alone (MPI_COMM_SELF): a group of size 1 inside a job of any size, for computing what
    /// a single-process run would on the same data (tests of rank-count independence). Initialises MPI
    /// through `world`.
    public static let single = ProcessGroup(selfOf: world)

    /// This process's rank in 0..<size.
    public let rank: Int
    /// The number of ranks in the job (1 without a launcher).
    public let size: Int
    /// The MPI thread level granted by MPI_Init_thread (MPI_THREAD_FUNNELED or better when this group
    /// initialised MPI).
    public let threadLevel: Int32

    let communicator: MPI_Comm
    /// Whether this group created its communicator (`split`) and frees it when released.
    private let ownsCommunicator: Bool

    /// Rank 0 owns the task schedule, checkpoints, evaluation and the printing.
    public var isRoot: Bool { rank == 0 }

    private init(initialisingWorld: Void) {
        var initialised: Int32 = 0
        Self.checkBeforeInit(MPI_Initialized(&initialised), "MPI_Initialized")
        var provided: Int32 = 0
        if initialised == 0 {
            Self.checkBeforeInit(MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided), "MPI_Init_thread")
            atexit(finaliseMPIAtExit)
        } else {
            Self.checkBeforeInit(MPI_Query_thread(&provided), "MPI_Query_thread")
        }
        threadLevel = provided
        communicator = cmpi_comm_world()
        // From here on, errors come back as codes and `check` turns them into a job-wide abort.
        Self.checkBeforeInit(MPI_Comm_set_errhandler(communicator, cmpi_errors_return()),
                             "MPI_Comm_set_errhandler")
        var rank: Int32 = 0
        var size: Int32 = 0
        Self.checkBeforeInit(MPI_Comm_rank(communicator, &rank), "MPI_Comm_rank")
        Self.checkBeforeInit(MPI_Comm_size(communicator, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
        ownsCommunicator = false
    }

    private init(selfOf world: ProcessGroup) {
        threadLevel = world.threadLevel
        communicator = cmpi_comm_self()
        Self.checkBeforeInit(MPI_Comm_set_errhandler(communicator, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        rank = 0
        size = 1
        ownsCommunicator = false
    }

    /// A group over a communicator just made from `parent`'s (`split`), which it owns: errors return codes
    /// as on the parent, and the communicator is freed when the group is released.
    init(owning communicator: MPI_Comm, parent: ProcessGroup, file: StaticString, line: UInt) {
        threadLevel = parent.threadLevel
        self.communicator = communicator
        ownsCommunicator = true
        parent.check(MPI_Comm_set_errhandler(communicator, cmpi_errors_return()), "MPI_Comm_set_errhandler",
                     file: file, line: line)
        var rank: Int32 = 0
        var size: Int32 = 0
        parent.check(MPI_Comm_rank(communicator, &rank), "MPI_Comm_rank", file: file, line: line)
        parent.check(MPI_Comm_size(communicator, &size), "MPI_Comm_size", file: file, line: line)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Frees an owned communicator (MPI_Comm_free, unless MPI is already finalised). MPI counts the free as
    /// collective over the group's members: release a split group at the same point on each of them.
    deinit {
        guard ownsCommunicator else { return }
        var finalised: Int32 = 0
        guard MPI_Finalized(&finalised) == cmpi_success(), finalised == 0 else { return }
        var handle: MPI_Comm? = communicator
        check(MPI_Comm_free(&handle), "MPI_Comm_free")
    }

    // MARK: Synchronisation and printing

    /// MPI_Barrier: returns once every rank has entered it.
    public func barrier(file: StaticString = #fileID, line: UInt = #line) {
        check(MPI_Barrier(communicator), "MPI_Barrier", file: file, line: line)
    }

    /// A barrier that sleeps between polls (MPI_Ibarrier + MPI_Test) instead of spinning, for ranks that
    /// wait while another rank works alone (a busy-waiting rank would take a core from it).
    public func barrierSleeping(pollInterval: TimeInterval = 0.001,
                                file: StaticString = #fileID, line: UInt = #line) {
        var request: MPI_Request? = cmpi_request_null()
        check(MPI_Ibarrier(communicator, &request), "MPI_Ibarrier", file: file, line: line)
        var done: Int32 = 0
        while true {
            check(MPI_Test(&request, &done, cmpi_status_ignore()), "MPI_Test", file: file, line: line)
            if done != 0 { return }
            Thread.sleep(forTimeInterval: pollInterval)
        }
    }

    /// Prints `message` on rank 0 only (stdout, flushed), like llm.c's `printf0`.
    public func log0(_ message: @autoclosure () -> String) {
        guard isRoot else { return }
        print(message())
        fflush(stdout)
    }

    /// Prints `message` on every rank, prefixed with `[rank r/size]`, to stderr.
    public func logAll(_ message: @autoclosure () -> String) {
        fputs("[rank \(rank)/\(size)] \(message())\n", stderr)
        fflush(stderr)
    }

    // MARK: Failure

    /// Ends the whole job: prints `message` with this rank to stderr, then MPI_Abort on MPI_COMM_WORLD
    /// (every rank of the job is killed with `code` as the exit status). Call it on the rank that failed.
    public func abort(message: String, code: Int32 = 1) -> Never {
        fflush(stdout)
        fputs("promptcl: [rank \(rank)/\(size)] \(message)\n", stderr)
        fflush(stderr)
        _ = MPI_Abort(cmpi_comm_world(), code)  // the job, whichever group failed (subgroups, `single`)
        exit(code)  // MPI_Abort does not return; this only satisfies `Never`.
    }

    /// Checks an MPI return code: anything but MPI_SUCCESS aborts the job with the MPI error string,
    /// the call's name and the caller's file and line.
    @inline(__always)
    func check(_ code: Int32, _ call: @autoclosure () -> String,
               file: StaticString = #fileID, line: UInt = #line) {
        if code != cmpi_success() {
            fail(code, call(), file: file, line: line)
        }
    }

    @inline(never)
    private func fail(_ code: Int32, _ call: String, file: StaticString, line: UInt) -> Never {
        abort(message: "\(call) failed at \(file):\(line): \(Self.errorString(code)) (MPI error \(code))",
              code: 1)
    }

    /// MPI_Error_string for `code`.
    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == cmpi_success() else { return "unknown MPI error" }
        return String(cString: buffer)
    }

    /// Errors before the communicator can abort: MPI is not (or not fully) up, so exit this process.
    private static func checkBeforeInit(_ code: Int32, _ call: String,
                                        file: StaticString = #fileID, line: UInt = #line) {
        guard code != cmpi_success() else { return }
        fputs("promptcl: \(call) failed at \(file):\(line): \(errorString(code)) (MPI error \(code))\n", stderr)
        exit(1)
    }
}

/// Registered with `atexit` by the group that initialised MPI: finalises MPI once, unless it already
/// was (or an abort is under way, in which case the process never gets here).
private func finaliseMPIAtExit() {
    var finalised: Int32 = 0
    guard MPI_Finalized(&finalised) == cmpi_success(), finalised == 0 else { return }
    fflush(stdout)
    fflush(stderr)
    _ = MPI_Finalize()
}
