import ArgumentParser
import Distributed
import Foundation
import Numerics

/// `promptcl doctor`: what this job runs on — MPI, ranks and hosts, OpenBLAS, LAPACK, ScaLAPACK, cores,
/// thread settings — and the measured SGEMM rate on one thread and on all the cores this rank may use.
/// Rank 0 prints (and measures, while the other ranks wait without spinning).
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the MPI, BLAS, LAPACK and ScaLAPACK this job uses, and the measured SGEMM rate.")

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Skip the SGEMM measurement (a few seconds).")
    var skipSgemm = false

    @Option(help: "Timed repetitions per SGEMM measurement (the best one counts).")
    var repetitions = 5

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, not \(repetitions)") }
    }

    func run() throws {
        let group = ProcessGroup.world
        let hosts = group.allgatherv(Array(Self.hostName().utf8))
        var ranksPerHost: [String: Int] = [:]
        var start = 0
        for count in hosts.counts {
            let name = String(decoding: hosts.values[start..<(start + count)], as: UTF8.self)
            ranksPerHost[name, default: 0] += 1
            start += count
        }
        guard group.isRoot else {
            group.barrierSleeping()
            return
        }

        let cores = CPUAffinity.allowedCores
        let environment = ProcessInfo.processInfo.environment
        var report = DoctorReport(
            mpi: .init(version: SystemLibraries.mpiVersion, library: SystemLibraries.mpiPath,
                       rank: group.rank, size: group.size, threadLevel: Int(group.threadLevel),
                       ranksPerHost: ranksPerHost),
            openBLAS: .init(config: OpenBLASInfo.config, coreName: OpenBLASInfo.coreName,
                            threads: OpenBLASInfo.threads, library: SystemLibraries.openBLASPath),
            lapack: .init(version: SystemLibraries.lapackVersion, library: SystemLibraries.lapackPath),
            scalapack: .init(library: SystemLibraries.scalapackPath),
            cores: .init(online: ProcessInfo.processInfo.activeProcessorCount, allowed: cores),
            environment: .init(openBLASNumThreads: environment["OPENBLAS_NUM_THREADS"],
                               ompNumThreads: environment["OMP_NUM_THREADS"],
                               openBLASThreadTimeout: environment[OpenBLASIdleWorkers.timeoutVariable]),
            sgemm: nil)
        if !skipSgemm {
            let shape = SgemmRate.vitBase
            report.sgemm = .init(m: shape.m, n: shape.n, k: shape.k, repetitions: repetitions,
                                 oneThreadGFLOPS: Self.tenths(SgemmRate.measure(threads: 1, shape: shape,
                                                                                repetitions: repetitions)),
                                 allThreads: cores,
                                 allThreadsGFLOPS: Self.tenths(SgemmRate.measure(threads: cores, shape: shape,
                                                                                 repetitions: repetitions)))
        }
        if json {
            print(try jsonLine(report))
        } else {
            print(report.text)
        }
        fflush(stdout)
        group.barrierSleeping()
    }

    private static func tenths(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(cString: buffer)
    }
}

/// What `promptcl doctor` reports; its JSON form is this struct encoded.
struct DoctorReport: Codable {
    struct MPI: Codable {
        var version: String, library: String?
        var rank: Int, size: Int, threadLevel: Int
        var ranksPerHost: [String: Int]
    }
    struct OpenBLAS: Codable { var config: String, coreName: String, threads: Int, library: String? }
    struct LAPACK: Codable { var version: String, library: String? }
    struct ScaLAPACK: Codable { var library: String? }
    /// `online`: the machine's (or container's) processors; `allowed`: those in this rank's affinity mask.
    struct Cores: Codable { var online: Int, allowed: Int }
    struct Environment: Codable {
        /// `openBLASThreadTimeout` is 4 unless the user set it: `promptcl` sets it at start (`OpenBLASIdleWorkers`).
        var openBLASNumThreads: String?, ompNumThreads: String?, openBLASThreadTimeout: String?
        // Unset variables are null in the JSON, not missing keys.
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(openBLASNumThreads, forKey: .openBLASNumThreads)
            try container.encode(ompNumThreads, forKey: .ompNumThreads)
            try container.encode(openBLASThreadTimeout, forKey: .openBLASThreadTimeout)
        }
    }
    struct Sgemm: Codable {
        var m: Int, n: Int, k: Int, repetitions: Int
        var oneThreadGFLOPS: Double, allThreads: Int, allThreadsGFLOPS: Double
    }

    var mpi: MPI
    var openBLAS: OpenBLAS
    var lapack: LAPACK
    var scalapack: ScaLAPACK
    var cores: Cores
    var environment: Environment
    var sgemm: Sgemm?

    // Encode absent values as null, so the JSON always has every key.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mpi, forKey: .mpi)
        try container.encode(openBLAS, forKey: .openBLAS)
        try container.encode(lapack, forKey: .lapack)
        try container.encode(scalapack, forKey: .scalapack)
        try container.encode(cores, forKey: .cores)
        try container.encode(environment, forKey: .environment)
        try container.encode(sgemm, forKey: .sgemm)
    }

    var text: String {
        func show(_ value: String?) -> String { value ?? "(not set)" }
        let threadLevels = ["single", "funneled", "serialized", "multiple"]
        let level = threadLevels.indices.contains(mpi.threadLevel) ? threadLevels[mpi.threadLevel] : "\(mpi.threadLevel)"
        var lines = [
            "promptcl doctor",
            "  MPI            \(mpi.version)",
            "                 \(mpi.library ?? "(library not found)")",
            "  ranks          \(mpi.size) (this is rank \(mpi.rank)), thread level \(level)",
            "  hosts          " + mpi.ranksPerHost.sorted { $0.key < $1.key }
                .map { "\($0.key) (\($0.value) rank\($0.value == 1 ? "" : "s"))" }.joined(separator: ", "),
            "  OpenBLAS       \(openBLAS.config)",
            "                 core \(openBLAS.coreName), \(openBLAS.threads) thread\(openBLAS.threads == 1 ? "" : "s")",
            "                 \(openBLAS.library ?? "(library not found)")",
            "  LAPACK         \(lapack.version)  \(lapack.library ?? "(library not found)")",
            "  ScaLAPACK      \(scalapack.library ?? "(library not found)")",
            "  cores          \(cores.online) online, \(cores.allowed) allowed for this rank"
                + (cores.allowed < cores.online ? " (bound by the launcher)" : ""),
            "  environment    OPENBLAS_NUM_THREADS=\(show(environment.openBLASNumThreads)) "
                + "OMP_NUM_THREADS=\(show(environment.ompNumThreads)) "
                + "OPENBLAS_THREAD_TIMEOUT=\(show(environment.openBLASThreadTimeout))",
        ]
        if let sgemm {
            let shape = "\(sgemm.m) x \(sgemm.n) x \(sgemm.k)"
            lines.append("  sgemm          \(shape), best of \(sgemm.repetitions): "
                         + String(format: "%.1f GFLOP/s on 1 thread, %.1f on %d (all allowed cores)",
                                  sgemm.oneThreadGFLOPS, sgemm.allThreadsGFLOPS, sgemm.allThreads))
        } else {
            lines.append("  sgemm          (skipped)")
        }
        return lines.joined(separator: "\n")
    }
}
