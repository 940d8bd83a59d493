import Dispatch

/// Runs `body(row)` for every row in 0..<rows, split into contiguous chunks over the cores when the
/// work is large enough to pay for the threads (`cost` is a rough count of operations per row).
/// Rows must be independent: `body` writes only its own row's outputs.
@inline(__always)
public func parallelRows(_ rows: Int, cost: Int, _ body: (Int) -> Void) {
    let workers = ComputeThreads.kernelThreads
    if workers <= 1 || rows * cost < 1 << 16 || rows < 2 * workers {
        for row in 0..<rows { body(row) }
        return
    }
    let chunk = (rows + workers - 1) / workers
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = worker * chunk
            let end = min(rows, start + chunk)
            if start < end { for row in start..<end { body(row) } }
        }
    }
}
