/// The independent random streams of a pretraining, all derived from the config's one `seed` (as `RunSeeds`
/// for `promptcl train`), so that changing one part never shifts another.
struct PretrainSeeds {
    let root: UInt64

    var model: UInt64 { derive(1) }
    var data: UInt64 { derive(2) }
    var heldOut: UInt64 { derive(3) }
    var sampler: UInt64 { derive(4) }

    private func derive(_ stream: UInt64) -> UInt64 {
        var generator = SeededStream.generator(seed: root, stream: stream)
        return generator.next()
    }
}
