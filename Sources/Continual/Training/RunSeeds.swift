/// The independent random streams of a run, all derived from the config's one `seed`, so that changing
/// how one part draws never shifts another (the model's weights do not move when the sampler changes).
struct RunSeeds {
    let root: UInt64

    var model: UInt64 { derive(1) }
    var data: UInt64 { derive(2) }
    var classOrder: UInt64 { derive(3) }
    var prompts: UInt64 { derive(4) }
    var head: UInt64 { derive(5) }
    /// The synthetic set's test split (its own samples, disjoint streams from the training split's).
    var testData: UInt64 { derive(6) }
    /// The `per_class` choices of the training and test splits.
    var subset: UInt64 { derive(7) }
    var testSubset: UInt64 { derive(8) }
    /// The sampler of task `task` (a different permutation per task and epoch).
    func sampler(task: Int) -> UInt64 { derive(1000 + UInt64(task)) }
    /// The k-means initialisation of task `task`'s keys.
    func keys(task: Int) -> UInt64 { derive(2000 + UInt64(task)) }

    private func derive(_ stream: UInt64) -> UInt64 {
        var generator = SeededStream.generator(seed: root, stream: stream)
        return generator.next()
    }
}
