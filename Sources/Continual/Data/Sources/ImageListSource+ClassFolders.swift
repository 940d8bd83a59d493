import Foundation

extension ImageListSource {
    /// Percent of each class's images that go to the test split.
    public static let testPercent = 20

    /// Class folders (ImageNet-R): `ROOT/CLASS/*.jpg`, one class per folder in sorted folder order, split
    /// 80/20 within each class from `seed`:
    /// ```
    /// files(c)  = class c's .jpg/.jpeg files, sorted by name
    /// order(c)  = FisherYates(files(c), SeededStream(seed, 2^32 + c))
    /// test(c)   = order(c)[..< round(n_c * 20 / 100)],   train(c) = the rest         (each kept in name order)
    /// ```
    /// Class names: from `class_names.txt` or else `README.txt` in ROOT (ImageNet-R's lists "n01443537 goldfish"),
    /// the lines whose first word is a class folder; without such lines, the folder names (underscores as spaces).
    /// Throws naming the folder or file: no class folders, a folder without JPEGs, a names file that names some
    /// folders but not all.
    public static func classFolders(directory: URL, imageSize: Int, seed: UInt64) throws -> ImageListSource {
        let files = FileManager.default
        let folders = try contents(of: directory).filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".")
                && files.fileExists(atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }
        guard !folders.isEmpty else { throw PreparedDataError(directory.path, "holds no class folders") }
        var train: [Entry] = [], test: [Entry] = []
        var sizes: [Int] = []
        for (label, folder) in folders.enumerated() {
            let url = directory.appendingPathComponent(folder)
            let images = try contents(of: url).filter(isJPEG)
            guard !images.isEmpty else { throw PreparedDataError(url.path, "class folder holds no .jpg or .jpeg images") }
            var order = Array(images.indices)
            var generator = SeededStream.generator(seed: seed, stream: (1 << 32) + UInt64(label))
            SeededStream.shuffle(&order, using: &generator)
            let testCount = (images.count * testPercent + 50) / 100
            let isTest = Set(order.prefix(testCount))
            for (i, name) in images.enumerated() {
                let entry = Entry(file: url.appendingPathComponent(name), label: label, domain: nil)
                if isTest.contains(i) { test.append(entry) } else { train.append(entry) }
            }
            sizes.append(images.count)
        }
        let names = try classNames(directory: directory, folders: folders)
        return ImageListSource(
            imageSize: imageSize, classNames: names, domainNames: [],
            notes: ["class folders: \(folders.count) classes, \(sizes.reduce(0, +)) images; per class a seeded "
                    + "\(100 - testPercent)/\(testPercent) split (files by name, Fisher-Yates from SeededStream(seed "
                    + "\(seed), 2^32 + class), the first round(n * \(testPercent) / 100) to test): \(train.count) "
                    + "train, \(test.count) test; one caption per image, \"a photo of a {class}.\""],
            train: train, test: test)
    }

    /// The names of `folders` from ROOT's `class_names.txt` or `README.txt`, else the folder names.
    private static func classNames(directory: URL, folders: [String]) throws -> [String] {
        for file in ["class_names.txt", "README.txt"] {
            let url = directory.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else { continue }
            var named: [String: String] = [:]
            let wanted = Set(folders)
            for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
                let words = line.split(separator: " ", maxSplits: 1)
                guard words.count == 2, wanted.contains(String(words[0])) else { continue }
                named[String(words[0])] = readable(words[1].trimmingCharacters(in: .whitespaces))
            }
            guard !named.isEmpty else { continue }
            let unnamed = folders.filter { named[$0] == nil }
            guard unnamed.isEmpty else {
                throw PreparedDataError(url.path, "names \(named.count) of the \(folders.count) class folders; no "
                                        + "line \"FOLDER NAME\" for \(unnamed.prefix(3).joined(separator: ", "))")
            }
            return folders.map { named[$0]! }
        }
        return folders.map(readable)
    }

    /// The sorted entry names of `directory`; throws naming it when it cannot be listed.
    static func contents(of directory: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw PreparedDataError(directory.path, "cannot be listed: \(error.localizedDescription)")
        }
    }
}
