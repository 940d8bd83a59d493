import Foundation
import Numerics

/// `bench step --breakdown`: a step's wall time by kernel kind (`KernelProfile`), per step:
/// ```
/// ms      = seconds[kind] / steps * 1000            share = seconds[kind] / step seconds
/// GFLOP/s = flops[kind] / seconds[kind] / 1e9       of sgemm = GFLOP/s / the sgemm rate of the same run
/// other   = step seconds - sum of the kinds          (residual adds, buffer fills, embeddings, loss)
/// ```
/// The kinds without FLOPs counted (softmax, LayerNorm, GELU, other) show "-" for the rates: they are bound by
/// memory, and their share is what matters. With several threads, attention runs its (b, h) pairs' GEMMs and
/// softmax on all of them at once: its region's wall time is split between "attention GEMMs" and "softmax" in
/// the ratio of the time its threads spent in each (`Attention`), so the two rows are shares of one region.
struct StepBreakdown: Encodable {
    let kind: String
    let ms_per_step: Double
    let share: Double
    let gflops: Double?
    let fraction_of_sgemm: Double?
    var threads: Int?
    var batch: Int?

    func withContext(threads: Int, batch: Int) -> StepBreakdown {
        var row = self
        (row.threads, row.batch) = (threads, batch)
        return row
    }

    /// One row per kind, then "other" and the whole step.
    static func rows(profile: KernelProfile, steps: Int, stepSeconds: Double, sgemmGflops: Double) -> [StepBreakdown] {
        func row(_ label: String, seconds: Double, flops: Double) -> StepBreakdown {
            let gflops = flops > 0 && seconds > 0 ? flops / seconds / 1e9 : nil
            return StepBreakdown(kind: label, ms_per_step: seconds / Double(steps) * 1e3, share: seconds / stepSeconds,
                                 gflops: gflops, fraction_of_sgemm: gflops.map { $0 / sgemmGflops })
        }
        let kinds = KernelProfile.Kind.allCases.map {
            row($0.label, seconds: profile.seconds[$0.rawValue], flops: profile.flops[$0.rawValue])
        }
        let measured = profile.seconds.reduce(0, +)
        return kinds + [row("other", seconds: stepSeconds - measured, flops: 0),
                        row("step", seconds: stepSeconds, flops: profile.flops.reduce(0, +))]
    }

    static func table(_ rows: [StepBreakdown]) -> String {
        var lines = ["    kind                   ms/step   share   GFLOP/s  of sgemm"]
        for row in rows {
            let rate = row.gflops.map { String(format: "%8.1f", $0) } ?? "       -"
            let fraction = row.fraction_of_sgemm.map { String(format: "%7.1f%%", 100 * $0) } ?? "       -"
            lines.append("    " + row.kind.padding(toLength: 22, withPad: " ", startingAt: 0)
                         + String(format: "%8.2f  %5.1f%%  ", row.ms_per_step, 100 * row.share)
                         + rate + "  " + fraction)
        }
        return lines.joined(separator: "\n")
    }
}
