/// A labelled image-caption dataset as the continual runtime reads it: the procedural `SyntheticShapes`
/// and the prepared real datasets (COCO captions, CIFAR-100, class folders, Fashion-MNIST) alike.
///
/// Images are square, 3 channels, `imageSize` pixels a side, handed out CLIP-normalised:
/// ```
/// pixel[c, y, x] = (value[c, y, x] - CLIPPixels.mean[c]) / CLIPPixels.std[c]      value in [0, 1]
/// ```
/// Labels are class indices in `0..<classNames.count`; `classNames[c]` names class c for zero-shot
/// classifiers ("a photo of a {class}"). A dataset may have domains (DomainNet: clipart, infograph, ...), the
/// tasks of a domain split (`TaskSplit`). Every method must be safe to call from several threads at once.
public protocol ImageTextDataset: Sendable {
    /// Number of samples; valid indices are `0..<count`.
    var count: Int { get }
    /// Side of the square image in pixels (channels are always 3).
    var imageSize: Int { get }
    /// Class c's name, for "a photo of a {class}" classifiers.
    var classNames: [String] { get }
    /// Class index of sample `index`, in `0..<classNames.count`.
    func label(at index: Int) -> Int
    /// The dataset's domains in order; empty when it has none (every dataset but DomainNet).
    var domainNames: [String] { get }
    /// Domain index of sample `index`, in `0..<domainNames.count`; nil when the dataset has no domains.
    func domain(at index: Int) -> Int?
    /// The caption of sample `index` (the one training uses).
    func caption(at index: Int) -> String
    /// Every caption of sample `index`, `caption(at:)` first (COCO's images have about 5, the synthetic samples 3).
    func captions(at index: Int) -> [String]
    /// CLIP-normalised pixels (3, imageSize, imageSize) of sample `index` into `destination` (CLIP mean
    /// (0.48145466, 0.4578275, 0.40821073), std (0.26862954, 0.26130258, 0.27577711)).
    func writePixels(at index: Int, into destination: UnsafeMutablePointer<Float>)
}
