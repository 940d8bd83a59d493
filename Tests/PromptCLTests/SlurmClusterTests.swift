import Foundation
import XCTest
import CLIP
import Continual

/// cluster/'s batch scripts through a real Slurm: each test brings up its own single-node cluster with
/// `cluster/local-slurm up` (munged, slurmctld, slurmd, everything under the test's scratch directory) and takes
/// it down in tearDown, whatever happened. Jobs run the built `promptcl` on 2 tasks of a tiny random CLIP:
/// train.sbatch under srun and under mpirun gives the same prompts; an array over 2 seeds gives 2 runs; a chain
/// prepare -> train -> report runs in order, and a failed first job cancels the rest; a job pre-empted with USR1
/// writes a checkpoint, exits 75, is requeued, resumes and ends with the prompts, losses and scores of a run
/// never stopped, bit for bit; a job cancelled with scancel leaves a checkpoint and is not requeued. Needs root and
/// slurm-wlm, munge, libpmix-dev (bash launch/setup); without them every test fails with a message saying so.
final class SlurmClusterTests: XCTestCase {
    private var scratch: URL!
    /// local-slurm's directory (slurm.conf, daemons' logs); nil until setUp chose it.
    private var cluster: URL?
    private var commandCount = 0

    /// A tiny random CLIP on 16 px synthetic shapes (TrainCommandTests'): 2 tasks of 6 steps each of a global batch
    /// of 16, a few seconds on 2 ranks.
    private let tinyConfig = """
        seed = 7
        [model.random]
        image_size = 16
        patch_size = 8
        vision_width = 32
        vision_layers = 2
        vision_heads = 2
        text_width = 32
        text_layers = 1
        text_heads = 2
        projection_dim = 16
        [data]
        samples = 192
        [tasks]
        count = 2
        epochs = 1
        [method.vpt]
        tokens = 2
        [train]
        global_batch = 16
        log_every_steps = 2
        [optimizer]
        lr = 0.01
        """

    /// The tiny config trained for 2 tasks x 3 epochs x 60 steps, a progress line every step: several seconds,
    /// so a signal lands mid-run.
    private var longConfig: String {
        tinyConfig.replacingOccurrences(of: "samples = 192", with: "samples = 1920")
            .replacingOccurrences(of: "epochs = 1", with: "epochs = 3")
            .replacingOccurrences(of: "log_every_steps = 2", with: "log_every_steps = 1")
    }

    private static let finalStates: Set = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                           "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"]

    private struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-slurm-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        guard getuid() == 0 else {
            throw SetupError(description: "SlurmClusterTests must run as root: cluster/local-slurm starts slurmd")
        }
        // local-slurm checks the daemons (in /usr/sbin) itself, with the same advice.
        for tool in ["sbatch", "scontrol", "scancel"] {
            guard try run("/bin/sh", ["-c", "command -v \(tool)"]).status == 0 else {
                throw SetupError(description: "no \(tool) on PATH: run `bash launch/setup` (as root; it installs "
                                 + "slurm-wlm, munge and libpmix-dev)")
            }
        }
        guard FileManager.default.isExecutableFile(atPath: TrainJob.binary.path) else {
            throw SetupError(description: "no promptcl binary at \(TrainJob.binary.path): build with swift build --build-tests")
        }
        let directory = scratch.appendingPathComponent("cluster")
        cluster = directory
        let started = Date()
        let up = try run("/bin/bash", [localSlurm, "up", directory.path], timeout: 90)
        guard up.status == 0 else {
            _ = try? run("/bin/bash", [localSlurm, "down", directory.path], timeout: 90)
            throw SetupError(description: "cluster/local-slurm up \(directory.path) exited with \(up.status):\n"
                             + up.stderr + up.stdout)
        }
        XCTAssertEqual(up.stdout, "export SLURM_CONF=\(directory.path)/slurm.conf\n", "local-slurm up prints the export line")
        print("SlurmClusterTests: local-slurm up in \(seconds(since: started)) s")
    }

    override func tearDownWithError() throws {
        if let cluster {
            let down = try run("/bin/bash", [localSlurm, "down", cluster.path], timeout: 90)
            XCTAssertEqual(down.status, 0, "cluster/local-slurm down failed:\n\(down.stderr)")
            let status = try run("/bin/bash", [localSlurm, "status", cluster.path])
            XCTAssertEqual(status.status, 3, "local-slurm status after down says nothing runs:\n\(status.stdout)")
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: Tests

    /// train.sbatch under `srun --mpi=pmix` and under `mpirun` inside the allocation: both complete on 2 ranks
    /// and train the same prompts, bit for bit.
    func testTrainBatchScriptCompletesUnderSrunAndUnderMpirun() throws {
        let config = try writeConfig(tinyConfig)
        var prompts: [String: Data] = [:]
        for launcher in ["srun", "mpirun"] {
            let out = scratch.appendingPathComponent("train-\(launcher)")
            let log = scratch.appendingPathComponent("train-\(launcher).log")
            let started = Date()
            let job = try sbatch("train.sbatch", log: log,
                                 environment: ["CONFIG": config.path, "OUT": out.path, "LAUNCHER": launcher])
            let records = try waitFor(job, logs: scratch, prefix: log.lastPathComponent, timeout: 120)
            print("SlurmClusterTests: train.sbatch with \(launcher): \(seconds(since: started)) s from sbatch to done")
            let text = try contents(log)
            XCTAssertEqual(records.map { $0["JobState"] }, ["COMPLETED"], "train.sbatch with \(launcher):\n\(text)")
            XCTAssertEqual(records.first?["ExitCode"], "0:0", "train.sbatch with \(launcher): exit code")
            XCTAssertTrue(text.contains("SLURM_RESTART_COUNT=0, 2 tasks on"), "the first start is logged:\n\(text)")
            let command = launcher == "srun" ? "srun --mpi=pmix " : "mpirun -np 2 -x OPENBLAS_NUM_THREADS "
            XCTAssertTrue(text.contains(command + TrainJob.binary.path + " train --config"), "launched with \(command):\n\(text)")
            XCTAssertTrue(text.contains("--resume auto"), "every start passes --resume auto:\n\(text)")
            let summary = try RunReport.readSummary(in: out)
            XCTAssertEqual(summary.ranks, 2, "\(launcher): the run's rank count")
            XCTAssertEqual(summary.accuracyMatrix.rows.map(\.count), [1, 2], "\(launcher): an evaluation after each task")
            prompts[launcher] = try Data(contentsOf: out.appendingPathComponent("prompts.safetensors"))
        }
        XCTAssertEqual(prompts["srun"], prompts["mpirun"], "2 ranks train the same prompts under srun and under mpirun")
    }

    /// array.sbatch over seeds 3 and 4: one run per element, each with its seed; an element past the list fails
    /// with a message naming the index.
    func testArrayOverSeedsGivesOneRunPerSeed() throws {
        let config = try writeConfig(tinyConfig)
        let out = scratch.appendingPathComponent("seeds")
        let log = scratch.appendingPathComponent("array-%A_%a.log")
        let started = Date()
        let job = try sbatch("array.sbatch", log: log, options: ["--array=0-2"],
                             environment: ["CONFIG": config.path, "SEEDS": "3 4", "OUT": out.path])
        let records = try waitFor(job, logs: scratch, prefix: "array-", timeout: 150)
        print("SlurmClusterTests: array.sbatch over 2 seeds (and 1 index past them): \(seconds(since: started)) s "
              + "from sbatch to done")
        let states = Dictionary(records.map { ($0["ArrayTaskId"] ?? "?", $0["JobState"] ?? "?") },
                                uniquingKeysWith: { first, _ in first })
        let logs = try (0...2).map { try contents(scratch.appendingPathComponent("array-\(job)_\($0).log")) }
        XCTAssertEqual(states, ["0": "COMPLETED", "1": "COMPLETED", "2": "FAILED"], "the elements' states:\n\(logs)")
        XCTAssertTrue(logs[2].contains("array index 2 but SEEDS has 2 seeds (3 4)"), "element 2's message:\n\(logs[2])")
        var prompts: [Data] = []
        for (index, seed) in [3, 4].enumerated() {
            let run = out.appendingPathComponent("seed-\(seed)")
            XCTAssertTrue(logs[index].contains("--out \(run.path) --set seed=\(seed)"), "element \(index):\n\(logs[index])")
            let summary = try RunReport.readSummary(in: run)
            XCTAssertEqual(summary.seed, seed, "element \(index) ran seed \(seed)")
            XCTAssertEqual(summary.ranks, 2, "element \(index): 2 ranks")
            prompts.append(try Data(contentsOf: run.appendingPathComponent("prompts.safetensors")))
        }
        XCTAssertNotEqual(prompts[0], prompts[1], "seeds 3 and 4 train different prompts")
    }

    /// chain.sh: prepare -> train (2 seeds) -> report, each waiting for the one before; the training reads the
    /// prepared shards. A chain whose prepare fails has its other jobs cancelled, not left pending.
    func testChainRunsPrepareTrainAndReportInOrder() throws {
        let config = try writeConfig(tinyConfig)
        let out = scratch.appendingPathComponent("chain")
        let started = Date()
        let ids = try chain(out: out, prepare: "--dataset synthetic --image-size 16 --samples 192", config: config)
        var records: [String: [[String: String]]] = [:]
        let logFolder = out.appendingPathComponent("logs")
        for (stage, id) in ids { records[stage] = try waitFor(id, logs: logFolder, prefix: stage, timeout: 150) }
        print("SlurmClusterTests: chain.sh: \(seconds(since: started)) s from submission to done")
        let logNames = try FileManager.default.contentsOfDirectory(atPath: logFolder.path).sorted()
        XCTAssertEqual(logNames, ["prepare-\(ids[0].1).log", "report-\(ids[2].1).log", "train-\(ids[1].1)_0.log",
                              "train-\(ids[1].1)_1.log"], "one log per job and element in OUT/logs")
        for (stage, jobs) in records {
            XCTAssertEqual(jobs.map { $0["JobState"] }, Array(repeating: "COMPLETED", count: stage == "train" ? 2 : 1),
                           "\(stage):\n\(logs(in: logFolder))")
        }
        // Each job started after the one before it ended (whole seconds: scontrol's times).
        let prepareEnd = try time(XCTUnwrap(records["prepare"]?.first?["EndTime"]))
        let trains = try XCTUnwrap(records["train"])
        let reportStart = try time(XCTUnwrap(records["report"]?.first?["StartTime"]))
        for element in trains {
            let start = try time(XCTUnwrap(element["StartTime"])), end = try time(XCTUnwrap(element["EndTime"]))
            XCTAssertLessThanOrEqual(prepareEnd, start, "a training element started before prepare ended: \(element)")
            XCTAssertLessThanOrEqual(end, reportStart, "the report started before a training element ended: \(element)")
        }
        let data = out.appendingPathComponent("data")
        XCTAssertTrue(FileManager.default.fileExists(atPath: data.appendingPathComponent("manifest.json").path),
                      "prepare wrote OUT/data")
        let report = try contents(out.appendingPathComponent("report.md"))
        for seed in [1, 2] {
            let run = out.appendingPathComponent("seed-\(seed)")
            let used = try contents(run.appendingPathComponent("config.toml"))
            XCTAssertTrue(used.contains("path = \"\(data.path)\""), "seed \(seed) trained on the prepared data:\n\(used)")
            XCTAssertTrue(report.contains("| \(run.path) | vpt-seq | synthetic | 2 | 2 |"),
                          "report.md's row of seed \(seed):\n\(report)")
        }

        let broken = scratch.appendingPathComponent("broken")
        let brokenIds = try chain(out: broken, prepare: "--dataset no-such-dataset", config: config)
        let brokenStates = try brokenIds.map { stage, id in
            (stage, try waitFor(id, logs: broken.appendingPathComponent("logs"), prefix: stage, timeout: 60)
                .map { $0["JobState"] ?? "?" })
        }
        XCTAssertEqual(brokenStates.map(\.0), ["prepare", "train", "report"], "chain.sh prints the three jobs in order")
        let brokenLogs = logs(in: broken.appendingPathComponent("logs"))
        XCTAssertEqual(brokenStates.map(\.1), [["FAILED"], ["CANCELLED"], ["CANCELLED"]],
                       "a failed prepare cancels the training and the report:\n\(brokenLogs)")
    }

    /// train.sbatch pre-empted with USR1 (as --signal=B:USR1@SECONDS does before the time limit), under srun and
    /// under mpirun: the trainer writes a checkpoint and exits 75, the script requeues the job, the job starts
    /// again (SLURM_RESTART_COUNT=1), resumes and ends with the prompts, step losses and scores of the same run
    /// never stopped, bit for bit.
    func testPreemptedJobRequeuesResumesAndMatchesAnUninterruptedRun() throws {
        let config = try writeConfig(longConfig)
        let started = Date()
        var jobs: [(name: String, id: String, log: URL, out: URL)] = []
        // Submitted first, the pre-empted jobs run first; the reference runs while they wait to be requeued.
        for (name, launcher) in [("preempted-srun", "srun"), ("preempted-mpirun", "mpirun"), ("reference", "srun")] {
            let out = scratch.appendingPathComponent(name), log = scratch.appendingPathComponent(name + ".log")
            let id = try sbatch("train.sbatch", log: log,
                                environment: ["CONFIG": config.path, "OUT": out.path, "LAUNCHER": launcher])
            jobs.append((name, id, log, out))
        }
        var signalled: [String: Date] = [:]
        for job in jobs.prefix(2) {
            // Mid-epoch of task 1, with the trainer's signal handlers long installed.
            try waitForLog(job.log, toContain: "task 1/2  epoch 2/3  step 10/60", timeout: 120)
            let signal = try run("scancel", ["--signal=USR1", "--batch", job.id], environment: slurmEnvironment)
            XCTAssertEqual(signal.status, 0, "scancel --signal=USR1 --batch \(job.id): \(signal.stderr)")
            signalled[job.name] = Date()
        }
        var records: [String: [String: String]] = [:]
        for job in jobs { records[job.name] = try waitFor(job.id, logs: scratch, prefix: job.name, timeout: 180).first }
        print("SlurmClusterTests: 2 pre-empted runs and the reference: \(seconds(since: started)) s from sbatch to done")

        let reference = try XCTUnwrap(jobs.last)
        let referenceLog = try contents(reference.log)
        XCTAssertEqual(records["reference"]?["JobState"], "COMPLETED", "the uninterrupted run:\n\(referenceLog)")
        XCTAssertEqual(records["reference"]?["Restarts"], "0", "the uninterrupted run was not requeued")
        let referencePrompts = try Data(contentsOf: reference.out.appendingPathComponent("prompts.safetensors"))
        let referenceLosses = try TrainJob.stepLosses(reference.out)
        XCTAssertEqual(referenceLosses.count, 360, "2 tasks x 3 epochs x 60 steps")
        var referenceSummary = try RunReport.readSummary(in: reference.out)

        for job in jobs.prefix(2) {
            let text = try contents(job.log)
            XCTAssertEqual(records[job.name]?["JobState"], "COMPLETED", "\(job.name):\n\(text)")
            XCTAssertEqual(records[job.name]?["ExitCode"], "0:0", "\(job.name): the last start's exit code")
            XCTAssertEqual(records[job.name]?["Restarts"], "1", "\(job.name) was requeued once:\n\(text)")
            for line in ["SLURM_RESTART_COUNT=0, 2 tasks", "received SIGUSR1: asking the trainer to checkpoint and stop",
                         "exit status 75", "(exit 75): scontrol requeue \(job.id)", "SLURM_RESTART_COUNT=1, 2 tasks",
                         "resumed from \(job.out.path)/checkpoints/step-", "the trainer finished"] {
                XCTAssertTrue(text.contains(line), "\(job.name)'s log has \"\(line)\":\n\(text)")
            }
            if let record = records[job.name], let signal = signalled[job.name],
               let eligible = try? time(XCTUnwrap(record["EligibleTime"])),
               let start = try? time(XCTUnwrap(record["StartTime"])) {
                print("SlurmClusterTests: \(job.name): eligible again \(Int(eligible.timeIntervalSince(signal).rounded())) s "
                      + "after USR1, started again after \(Int(start.timeIntervalSince(signal).rounded())) s (whole seconds; "
                      + "the other jobs hold the node meanwhile)")
            }
            let prompts = try Data(contentsOf: job.out.appendingPathComponent("prompts.safetensors"))
            XCTAssertEqual(prompts, referencePrompts, "\(job.name): prompts.safetensors bit for bit the reference's")
            XCTAssertEqual(try TrainJob.stepLosses(job.out), referenceLosses,
                           "\(job.name): the 360 step losses (before and after the stop) are the reference's")
            var summary = try RunReport.readSummary(in: job.out)
            (summary.wallSeconds, summary.evaluationSeconds) = (0, [])
            (referenceSummary.wallSeconds, referenceSummary.evaluationSeconds) = (0, [])
            XCTAssertEqual(summary, referenceSummary, "\(job.name): summary.json equals the reference's but for times")
        }
    }

    /// `scancel JOBID` (TERM to the batch shell and the step): the trainer still writes a checkpoint and exits
    /// 75, but the job ends CANCELLED and is not requeued.
    func testCancelledJobLeavesACheckpointAndIsNotRequeued() throws {
        let config = try writeConfig(longConfig)
        let out = scratch.appendingPathComponent("cancelled"), log = scratch.appendingPathComponent("cancelled.log")
        let job = try sbatch("train.sbatch", log: log, environment: ["CONFIG": config.path, "OUT": out.path])
        try waitForLog(log, toContain: "task 1/2  epoch 1/3  step 10/60", timeout: 120)
        let cancel = try run("scancel", [job])
        XCTAssertEqual(cancel.status, 0, "scancel \(job): \(cancel.stderr)")
        let record = try XCTUnwrap(waitFor(job, logs: scratch, prefix: "cancelled", timeout: 60).first)
        // Past the requeue's 11 s: a requeued job would be PENDING or RUNNING again by now.
        Thread.sleep(forTimeInterval: 12)
        let later = try XCTUnwrap(jobRecords(job).first)
        let text = try contents(log)
        XCTAssertEqual(record["JobState"], "CANCELLED", "scancel ends the job:\n\(text)")
        XCTAssertEqual([later["JobState"], later["Restarts"]], ["CANCELLED", "0"], "a cancelled job stays cancelled:\n\(text)")
        for line in ["received SIGTERM: asking the trainer to checkpoint and stop",
                     "exit status 75", "SIGTERM: the job is being ended, not requeued (exit 75)"] {
            XCTAssertTrue(text.contains(line), "the log has \"\(line)\":\n\(text)")
        }
        // Slurm's TERM to the step and the batch shell's forwarded USR1 race: the ranks stop on whichever their
        // step-boundary check saw first.
        XCTAssertTrue(text.contains("stopped on SIGTERM") || text.contains("stopped on SIGUSR1"),
                      "the trainer reports the stop:\n\(text)")
        XCTAssertFalse(text.contains("scontrol requeue"), "no requeue after scancel:\n\(text)")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path)
        XCTAssertTrue(checkpoints.contains { $0.hasPrefix("step-") }, "the stop wrote a checkpoint: \(checkpoints)")
    }

    // MARK: Helpers

    private var localSlurm: String { TrainJob.repositoryRoot.appendingPathComponent("cluster/local-slurm").path }

    /// This process's environment without MPI's and Slurm's variables (a child must not join this process's
    /// MPI job or an outer allocation), with SLURM_CONF naming the test's cluster, PROMPTCL the built binary and
    /// one OpenBLAS thread per rank.
    private var slurmEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "PMI_", "OPAL_", "SLURM_"].contains { key.hasPrefix($0) }
        }
        if let cluster { environment["SLURM_CONF"] = cluster.appendingPathComponent("slurm.conf").path }
        environment["PROMPTCL"] = TrainJob.binary.path
        environment["OPENBLAS_NUM_THREADS"] = "1"
        return environment
    }

    private func writeConfig(_ text: String) throws -> URL {
        let url = scratch.appendingPathComponent("config.toml")
        try Data(text.utf8).write(to: url)
        return url
    }

    private func contents(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    private func seconds(since start: Date) -> String { String(format: "%.1f", Date().timeIntervalSince(start)) }

    /// Runs `executable` (a path, or a name looked up on PATH) with `arguments` in the scratch directory; stdout and
    /// stderr go through files (a pipe nobody drains would block it). Fails the test and kills it after `timeout`.
    private func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                     timeout: Double = 60) throws -> (status: Int32, stdout: String, stderr: String) {
        commandCount += 1
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        process.environment = environment ?? slurmEnvironment
        process.currentDirectoryURL = scratch
        process.standardInput = FileHandle.nullDevice
        let stdoutURL = scratch.appendingPathComponent("command-\(commandCount).stdout")
        let stderrURL = scratch.appendingPathComponent("command-\(commandCount).stderr")
        for url in [stdoutURL, stderrURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let stdout = try FileHandle(forWritingTo: stdoutURL), stderr = try FileHandle(forWritingTo: stderrURL)
        defer { try? stdout.close(); try? stderr.close() }
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(executable) \(arguments) did not end within \(timeout) s: killed")
            // Foundation sees the end of a child when its descriptors close: one passed on to a daemon would
            // make waitUntilExit wait for the daemon too.
            let killed = Date().addingTimeInterval(10)
            while process.isRunning && Date() < killed { Thread.sleep(forTimeInterval: 0.05) }
            guard !process.isRunning else {
                throw SetupError(description: "\(executable) \(arguments) still counts as running 10 s after SIGTERM: "
                                 + "a process it started holds its descriptors")
            }
        }
        process.waitUntilExit()
        return (process.terminationStatus, try contents(stdoutURL), try contents(stderrURL))
    }

    /// `sbatch --parsable --output=LOG OPTIONS cluster/SCRIPT` with `environment` added to the job's; the job id.
    private func sbatch(_ script: String, log: URL, options: [String] = [], environment: [String: String]) throws -> String {
        let path = TrainJob.repositoryRoot.appendingPathComponent("cluster/\(script)").path
        let result = try run("sbatch", ["--parsable", "--output=\(log.path)"] + options + [path],
                             environment: slurmEnvironment.merging(environment) { $1 })
        let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw SetupError(description: "sbatch \(script) exited with \(result.status): \(result.stderr)\(result.stdout)")
        }
        return id
    }

    /// chain.sh with seeds 1 and 2 of `config` into `out`; its (stage, job id) lines in order.
    private func chain(out: URL, prepare: String, config: URL) throws -> [(String, String)] {
        let script = TrainJob.repositoryRoot.appendingPathComponent("cluster/chain.sh").path
        let result = try run("/bin/bash", [script], environment: slurmEnvironment.merging(
            ["PREPARE": prepare, "CONFIG": config.path, "SEEDS": "1 2", "OUT": out.path]) { $1 })
        XCTAssertEqual(result.status, 0, "chain.sh failed: \(result.stderr)")
        let ids = result.stdout.split(separator: "\n").map { line -> (String, String) in
            let fields = line.split(separator: " ").map(String.init)
            return (fields.first ?? "", fields.count == 2 ? fields[1] : "")
        }
        guard ids.map(\.0) == ["prepare", "train", "report"],
              ids.allSatisfy({ !$0.1.isEmpty && $0.1.allSatisfy(\.isNumber) }) else {
            throw SetupError(description: "chain.sh printed \"\(result.stdout)\", not prepare, train and report with job ids")
        }
        return ids
    }

    /// `scontrol show job -o ID` as key-value records, one per job (an array: one per element).
    private func jobRecords(_ id: String) throws -> [[String: String]] {
        let result = try run("scontrol", ["show", "job", "-o", id])
        XCTAssertEqual(result.status, 0, "scontrol show job -o \(id): \(result.stderr)")
        return result.stdout.split(separator: "\n").map { line in
            var record: [String: String] = [:]
            for field in line.split(separator: " ") {
                let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { continue }
                record[String(parts[0])] = String(parts[1])
            }
            return record
        }
    }

    /// Polls `scontrol show job -o` (quicker than sbatch --wait) until every record of job `id` is in a final
    /// state; fails the test after `timeout` seconds, quoting the job's states, its logs (the files in `logs`
    /// whose names start with `prefix`) and slurmd's log.
    private func waitFor(_ id: String, logs folder: URL, prefix: String, timeout: Double) throws -> [[String: String]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let records = try jobRecords(id)
            if !records.isEmpty && records.allSatisfy({ Self.finalStates.contains($0["JobState"] ?? "") }) { return records }
            if Date() > deadline {
                let slurmd = (try? contents(cluster!.appendingPathComponent("log/slurmd.log"))) ?? "(no slurmd.log)"
                XCTFail("job \(id) not done within \(timeout) s: \(records.map { $0["JobState"] ?? "?" })\n"
                        + "logs:\n\(logs(in: folder, prefix: prefix))\nslurmd.log:\n\(slurmd.suffix(4000))")
                return records
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// The files in `folder` whose names start with `prefix`, each after a line with its name.
    private func logs(in folder: URL, prefix: String = "") -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasPrefix(prefix) }
        return names.sorted().map { "== \($0)\n" + ((try? contents(folder.appendingPathComponent($0))) ?? "") }
            .joined(separator: "\n")
    }

    /// Waits until `log` contains `text`; fails the test (with the log) after `timeout` seconds.
    private func waitForLog(_ log: URL, toContain text: String, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !((try? contents(log))?.contains(text) ?? false) {
            guard Date() < deadline else {
                XCTFail("\(log.lastPathComponent) did not show \"\(text)\" within \(timeout) s:\n"
                        + ((try? contents(log)) ?? "(no log)"))
                return
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// A time of scontrol's (2026-11-23T00:50:25, the machine's time zone).
    private func time(_ text: String) throws -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return try XCTUnwrap(formatter.date(from: text), "scontrol's time \(text)")
    }
}
