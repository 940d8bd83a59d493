import Foundation

/// COCO captions as LPI's continual retrieval benchmark: 12 tasks, one per supercategory, in LPI's order.
///
/// Files under ROOT (2017 names, or 2014 when there are no 2017 ones):
/// ```
/// annotations/captions_train2017.json    images (id, file_name) and caption annotations (image_id, caption)
/// annotations/instances_train2017.json   categories (id, supercategory) and instance annotations
///                                        (image_id, category_id, area)
/// train2017/FILE.jpg                     the images; val2017 likewise: the test split
/// ```
/// Each image goes to one task: the supercategory with the largest annotated area, summed over the image's
/// instance annotations (crowd regions included), ties to the earlier in LPI's order; images without instance
/// annotations are left out (the manifest's notes count them). The classes are the 12 supercategories in
/// LPI's order (`lpiOrder`), which is also the class order (fixed, not drawn). Samples are the kept images
/// in ascending id, each with all its captions in ascending annotation id (the first is the training caption).
public struct COCOSource: SourceDataset {
    /// LPI's task order of COCO's supercategories.
    public static let lpiOrder = ["appliance", "sports", "outdoor", "electronic", "accessory", "indoor", "kitchen",
                                  "furniture", "vehicle", "food", "animal", "person"]

    /// One kept image.
    public struct Entry: Equatable, Sendable {
        public let imageID: Int
        public let file: URL
        public let label: Int
        public let captions: [String]
    }

    public let imageSize: Int
    public let train: [Entry]
    public let test: [Entry]
    public let notes: [String]

    /// Reads and cross-checks the four JSON files and checks that every kept image's file exists.
    public init(directory: URL, imageSize: Int) throws {
        self.imageSize = imageSize
        var notes: [String] = []
        var splits: [[Entry]] = []
        for (split, stem) in [(PreparedSplit.train, "train"), (.test, "val")] {
            let (entries, dropped, folder) = try Self.read(stem, in: directory)
            splits.append(entries)
            notes.append("\(split.rawValue): \(folder), \(entries.count) images kept, \(dropped) without instance "
                         + "annotations left out")
        }
        train = splits[0]
        test = splits[1]
        self.notes = ["coco: each image's task is the supercategory with the largest total instance area (sum of "
                      + "area over its instance annotations), ties to the earlier in LPI's order; all captions kept "
                      + "in annotation id order, the first is the training caption"] + notes
    }

    public var classNames: [String] { Self.lpiOrder }
    public var fixedClassOrder: [Int]? { Array(Self.lpiOrder.indices) }

    public func count(of split: PreparedSplit) -> Int { entries(split).count }

    public func read(_ index: Int, of split: PreparedSplit, into pixels: UnsafeMutablePointer<UInt8>) throws -> SourceSample {
        let entry = entries(split)[index]
        writeResized(try JPEGDecoder.decode(file: entry.file), into: pixels)
        return SourceSample(label: entry.label, captions: entry.captions)
    }

    private func entries(_ split: PreparedSplit) -> [Entry] { split == .train ? train : test }

    // MARK: Reading the annotations

    private struct Captions: Decodable {
        struct Image: Decodable {
            let id: Int
            let fileName: String
            enum CodingKeys: String, CodingKey { case id, fileName = "file_name" }
        }
        struct Annotation: Decodable {
            let id: Int
            let imageID: Int
            let caption: String
            enum CodingKeys: String, CodingKey { case id, caption, imageID = "image_id" }
        }
        let images: [Image]
        let annotations: [Annotation]
    }

    private struct Instances: Decodable {
        struct Category: Decodable {
            let id: Int
            let supercategory: String
        }
        struct Annotation: Decodable {
            let id: Int
            let imageID: Int
            let categoryID: Int
            let area: Double
            enum CodingKeys: String, CodingKey { case id, area, imageID = "image_id", categoryID = "category_id" }
        }
        let categories: [Category]
        let annotations: [Annotation]
    }

    /// One split's kept images, how many were left out, and its image folder's name ("train2017").
    private static func read(_ stem: String, in directory: URL) throws -> ([Entry], Int, String) {
        let annotations = directory.appendingPathComponent("annotations")
        guard let year = ["2017", "2014"].first(where: {
            FileManager.default.fileExists(atPath: annotations.appendingPathComponent("captions_\(stem)\($0).json").path)
        }) else {
            throw PreparedDataError(annotations.path, "holds neither captions_\(stem)2017.json nor captions_\(stem)2014.json")
        }
        let folder = "\(stem)\(year)"
        let captionsURL = annotations.appendingPathComponent("captions_\(folder).json")
        let instancesURL = annotations.appendingPathComponent("instances_\(folder).json")
        let captions = try decode(Captions.self, captionsURL)
        let instances = try decode(Instances.self, instancesURL)

        var files: [Int: String] = [:]
        for image in captions.images { files[image.id] = image.fileName }
        var texts: [Int: [String]] = [:]
        for annotation in captions.annotations.sorted(by: { $0.id < $1.id }) {
            guard files[annotation.imageID] != nil else {
                throw PreparedDataError(captionsURL.path, "caption annotation \(annotation.id) is of image id "
                                        + "\(annotation.imageID), which the file's images do not list")
            }
            texts[annotation.imageID, default: []].append(annotation.caption)
        }
        var task: [Int: Int] = [:]
        for category in instances.categories {
            guard let index = lpiOrder.firstIndex(of: category.supercategory) else {
                throw PreparedDataError(instancesURL.path, "category \(category.id) has supercategory "
                                        + "\"\(category.supercategory)\", not one of LPI's 12")
            }
            task[category.id] = index
        }
        var areas: [Int: [Double]] = [:]
        for annotation in instances.annotations {
            guard let index = task[annotation.categoryID] else {
                throw PreparedDataError(instancesURL.path, "instance annotation \(annotation.id) has category id "
                                        + "\(annotation.categoryID), which the file's categories do not list")
            }
            guard files[annotation.imageID] != nil else {
                throw PreparedDataError(instancesURL.path, "instance annotation \(annotation.id) is of image id "
                                        + "\(annotation.imageID), which \(captionsURL.lastPathComponent) does not list")
            }
            areas[annotation.imageID, default: [Double](repeating: 0, count: lpiOrder.count)][index] += annotation.area
        }
        var entries: [Entry] = []
        var dropped = 0
        for id in files.keys.sorted() {
            guard let area = areas[id] else {
                dropped += 1
                continue
            }
            guard let captions = texts[id] else {
                throw PreparedDataError(captionsURL.path, "image id \(id) has no caption")
            }
            let file = directory.appendingPathComponent(folder).appendingPathComponent(files[id]!)
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw PreparedDataError(file.path, "missing: \(captionsURL.lastPathComponent) lists it as image id \(id)")
            }
            let largest = area.max()!
            entries.append(Entry(imageID: id, file: file, label: area.firstIndex(of: largest)!, captions: captions))
        }
        guard !entries.isEmpty else {
            throw PreparedDataError(instancesURL.path, "no image of \(folder) has an instance annotation")
        }
        return (entries, dropped, folder)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PreparedDataError(url.path, "missing or unreadable")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw PreparedDataError(url.path, "is not COCO annotation JSON: \(PreparedManifest.describe(error))")
        }
    }
}
