import Foundation

/// Rank 0's one-line progress report:
/// ```
/// task 1/3  epoch 2/4  step 12/30  loss 2.3456  lr 9.76e-03  183.2 img/s  ETA 1:05
/// ```
/// Tasks, epochs and steps count from 1 here (from 0 in metrics.jsonl). images/s is over the steps since
/// the last line; the ETA is the remaining steps of the run at the mean step time so far.
enum ProgressLine {
    static func format(_ record: StepRecord, imagesPerSecond: Double, secondsPerStep: Double, taskCount: Int,
                       epochs: Int) -> String {
        let remaining = Double(record.totalSteps - record.globalStep - 1) * secondsPerStep
        return "task \(record.task + 1)/\(taskCount)  epoch \(record.epoch + 1)/\(epochs)  "
            + "step \(record.step + 1)/\(record.stepsPerEpoch)  loss \(String(format: "%.4f", record.loss))  "
            + "lr \(String(format: "%.2e", record.lr))  \(String(format: "%.1f", imagesPerSecond)) img/s  "
            + "ETA \(duration(remaining))"
    }

    /// h:mm:ss, or m:ss under an hour.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}
