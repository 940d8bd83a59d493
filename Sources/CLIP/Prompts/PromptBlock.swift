/// The row operations of a prompt site on (B, T, D) sequences, forward and backward side by side.
///
/// The block of `existing` prompt rows starts at row `start` of every sequence; an insert appends its
/// rows after that block (at row `start + existing`), shifting the rows behind it down, after removing the
/// block's last rows if asked (MPL).
/// Backwards accumulate (`+=`) into the prompt gradients.
struct PromptBlock {
    let width: Int
    let start: Int
    let existing: Int

    /// destination (B, T - r + n, D) = source (B, T, D) with the last r rows of the block removed and the
    /// n rows of `values` inserted in their place (r = `removing`, 0 for a plain insert).
    func insert(into destination: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>,
                values: PromptValues, count n: Int, removing r: Int = 0, batch: Int, tokens t: Int) {
        let at = start + existing
        let kept = at - r
        for b in 0..<batch {
            let from = source + b * t * width, to = destination + b * (t - r + n) * width
            to.update(from: from, count: kept * width)
            (to + kept * width).update(from: values.pointer + b * values.batchStride, count: n * width)
            (to + (kept + n) * width).update(from: from + at * width, count: (t - at) * width)
        }
    }

    /// In the forward pass this was an insert: dvalues += dDestination[inserted rows];
    /// dSource = dDestination without them, 0 for the r removed rows (overwritten).
    func insertBackward(dSource: UnsafeMutablePointer<Float>, dDestination: UnsafePointer<Float>,
                        gradient: PromptGradient?, count n: Int, removing r: Int = 0, batch: Int, tokens t: Int) {
        let at = start + existing
        let kept = at - r
        for b in 0..<batch {
            let to = dSource + b * t * width, from = dDestination + b * (t - r + n) * width
            to.update(from: from, count: kept * width)
            (to + kept * width).update(repeating: 0, count: r * width)
            (to + at * width).update(from: from + (kept + n) * width, count: (t - at) * width)
            if let gradient { accumulate(gradient.pointer + b * gradient.batchStride, from + kept * width, n * width) }
        }
    }

    /// In place on (B, T, D): the block's rows become `values` (.replace) or grow by them (.add).
    func apply(_ mode: PromptPlan.Mode, to sequence: UnsafeMutablePointer<Float>, values: PromptValues,
               batch: Int, tokens t: Int) {
        precondition(mode != .insert, "an insert changes the row count: use insert(into:from:)")
        for b in 0..<batch {
            let rows = sequence + (b * t + start) * width
            let source = values.pointer + b * values.batchStride
            if mode == .replace {
                rows.update(from: source, count: existing * width)
            } else {
                accumulate(rows, source, existing * width)
            }
        }
    }

    /// In the forward pass this was `X <- P` (.replace: the rows' gradient goes to P and no longer below)
    /// or `X <- X + P` (.add: it goes to both). Works in place on dSequence.
    func applyBackward(_ mode: PromptPlan.Mode, dSequence: UnsafeMutablePointer<Float>, gradient: PromptGradient?,
                       batch: Int, tokens t: Int) {
        for b in 0..<batch {
            let rows = dSequence + (b * t + start) * width
            if let gradient { accumulate(gradient.pointer + b * gradient.batchStride, rows, existing * width) }
            if mode == .replace { rows.update(repeating: 0, count: existing * width) }
        }
    }

    private func accumulate(_ destination: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, _ count: Int) {
        for i in 0..<count { destination[i] += source[i] }
    }
}
