@testable import Continual

/// A dataset with domains whose samples are given by their labels and domains (pixels all zero, 4 px): what
/// domain splits and per-domain subsets are tested on.
struct DomainedDataset: ImageTextDataset {
    let labels: [Int]
    let domains: [Int]
    let classNames: [String]
    let domainNames: [String]

    var count: Int { labels.count }
    var imageSize: Int { 4 }
    func label(at index: Int) -> Int { labels[index] }
    func domain(at index: Int) -> Int? { domains[index] }
    func caption(at index: Int) -> String { "a photo of a \(classNames[labels[index]])." }
    func captions(at index: Int) -> [String] { [caption(at: index)] }
    func writePixels(at index: Int, into destination: UnsafeMutablePointer<Float>) {
        destination.update(repeating: 0, count: 3 * imageSize * imageSize)
    }
}
