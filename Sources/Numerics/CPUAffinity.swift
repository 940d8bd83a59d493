import Foundation

/// The cores this process may run on. Under `mpirun` Open MPI binds each rank to a core (or a socket)
/// when ranks <= cores, and Foundation's `activeProcessorCount` does not see that: a rank that starts as
/// many BLAS threads as the machine has cores then runs them all on its one core.
public enum CPUAffinity {
    /// The number of CPUs in this process's affinity mask (`Cpus_allowed_list` of /proc/self/status,
    /// Linux), or `ProcessInfo.activeProcessorCount` where that cannot be read.
    public static var allowedCores: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
              let list = line.split(separator: ":", maxSplits: 1).last,
              let count = count(list: list.trimmingCharacters(in: .whitespaces)), count > 0
        else { return ProcessInfo.processInfo.activeProcessorCount }
        return count
    }

    /// Counts a CPU list such as "0-3,8,10-11" (7).
    static func count(list: String) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1: guard bounds[0] != nil else { return nil }; total += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
                total += high - low + 1
            default: return nil
            }
        }
        return total
    }
}
