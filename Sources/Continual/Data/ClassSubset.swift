/// At most `perClass` samples of each class of a dataset, chosen by a seeded shuffle and kept in the
/// base's order: the smaller runs `data.per_class` and `evaluation.per_class` ask for.
/// ```
/// order     = FisherYates(0..<base.count, SeededStream(seed, 0))
/// kept      = the first `perClass` indices of each class along `order`, sorted ascending
///             (`perDomain`: of each (domain, class) pair, so that every domain keeps up to `perClass` of each class)
/// sample i  = base sample kept[i]          (labels, domains, captions and pixels read through)
/// ```
public struct ClassSubset: ImageTextDataset {
    public let base: any ImageTextDataset
    /// Base indices of the kept samples, ascending.
    public let kept: [Int]

    /// `perDomain` counts each (domain, class) pair of a base with domains (a domain split's tasks are its
    /// domains); a base without domains counts by class either way.
    public init(_ base: any ImageTextDataset, perClass: Int, seed: UInt64, perDomain: Bool = false) {
        precondition(perClass > 0, "ClassSubset: perClass \(perClass) must be positive")
        var order = Array(0..<base.count)
        var generator = SeededStream.generator(seed: seed, stream: 0)
        SeededStream.shuffle(&order, using: &generator)
        let domains = perDomain ? max(1, base.domainNames.count) : 1
        var taken = [Int](repeating: 0, count: base.classNames.count * domains)
        var kept: [Int] = []
        for index in order {
            let key = base.label(at: index) * domains + (domains > 1 ? base.domain(at: index) ?? 0 : 0)
            if taken[key] < perClass {
                taken[key] += 1
                kept.append(index)
            }
        }
        self.base = base
        self.kept = kept.sorted()
    }

    public var count: Int { kept.count }
    public var imageSize: Int { base.imageSize }
    public var classNames: [String] { base.classNames }
    public func label(at index: Int) -> Int { base.label(at: kept[index]) }
    public var domainNames: [String] { base.domainNames }
    public func domain(at index: Int) -> Int? { base.domain(at: kept[index]) }
    public func caption(at index: Int) -> String { base.caption(at: kept[index]) }
    public func captions(at index: Int) -> [String] { base.captions(at: kept[index]) }
    public func writePixels(at index: Int, into destination: UnsafeMutablePointer<Float>) {
        base.writePixels(at: kept[index], into: destination)
    }
}
