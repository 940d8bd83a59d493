import Foundation

/// The prepared-dataset format: what `promptcl prepare` writes and `PreparedDataset` memory-maps.
///
/// A prepared dataset is a directory:
/// ```
/// DIR/manifest.json            PreparedManifest: format "promptcl-prepared", version, dataset, source, image
///                              size S, shard size, seed, class names, class order and its seed, domain names
///                              (DomainNet's; absent without domains), notes, and per split (train, test) the
///                              sample and caption counts, every shard's files with their byte sizes and payload
///                              CRC-32s, and each sample's domain (run-length encoded). Written last.
/// DIR/train-00000.images       shard 0 of the train split: samples 0 ..< shard_size
/// DIR/train-00000.labels
/// DIR/train-00000.captions
/// DIR/train-00001.images ...   samples shard_size ..< 2 shard_size, ...
/// DIR/test-00000.images ...
/// ```
/// Every shard file is a 64-byte `ShardHeader` (magic "PCLSHARD", shard version, kind, count, shape, payload CRC-32)
/// and a payload, little-endian:
/// ```
/// images    uint8  (count, 3, S, S)     RGB planes at the model's input size, as CLIPImageProcessor
///                                       resizes and crops; CLIP's normalisation is applied when read
/// labels    int32  (count)              class indices in 0 ..< classes
/// captions  uint64 (count + 1)          first[i]: sample i's captions are first[i] ..< first[i + 1]
///           uint64 (captions + 1)       start[j]: caption j is text[start[j] ..< start[j + 1]]
///           uint8  (text bytes)         UTF-8, no separators
/// ```
/// Classification datasets have one caption per image, "a photo of a {class}."; COCO has all of an image's
/// captions (usually 5). A sample's caption for training is its first (`ImageTextDataset.caption(at:)`).
///
/// While `promptcl prepare` runs, the directory also holds `prepare.json` (the settings, to refuse a rerun
/// with other ones) and shard files being written under `NAME.partial`; a finished shard file is renamed to
/// its name and then never changes. A rerun keeps every shard file whose header and checksum verify.
public enum PreparedFormat {
    public static let name = "promptcl-prepared"
    /// The manifest's version: 2 records the domains (`PreparedManifest.domainNames`, `SplitRecord.domains`);
    /// 1 did not, and is still read (a dataset without domains).
    public static let version = 2
    /// The manifest versions this promptcl reads.
    public static let readableVersions = 1...version
    /// The shard files' version (`ShardHeader`): unchanged since version 1 of the manifest.
    public static let shardVersion = 1
    public static let manifestName = "manifest.json"
    /// The settings of an unfinished preparation (removed once the manifest is written).
    public static let settingsName = "prepare.json"
    /// The suffix of a shard file while it is written.
    public static let partialSuffix = ".partial"

    /// "train-00003.images": shard `index` of `split`, the file holding `kind`.
    public static func fileName(split: PreparedSplit, shard index: Int, kind: ShardKind) -> String {
        let digits = String(index)
        return "\(split.rawValue)-\(String(repeating: "0", count: max(0, 5 - digits.count)))\(digits).\(kind.rawValue)"
    }

    /// `value` as the prepared directory's JSON files hold it: pretty-printed, sorted keys, a final newline (the
    /// same bytes for the same value).
    static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Whether `name` names a file directly in the prepared directory (no separators, not "." or "..").
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }
}
