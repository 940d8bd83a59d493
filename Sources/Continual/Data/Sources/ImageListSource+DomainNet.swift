import Foundation

extension ImageListSource {
    /// DomainNet from its file lists: for every `DOMAIN_train.txt` in ROOT (sorted) and its `DOMAIN_test.txt`,
    /// lines `DOMAIN/CLASS/FILE.jpg LABEL` with paths relative to ROOT; the splits are the lists' lines in
    /// order, domain after domain. The domains are the lists' (sorted: clipart, infograph, painting, quickdraw,
    /// real, sketch), and each entry's is its list's, which must be its path's first component. Class `LABEL`'s
    /// name is its CLASS folder (underscores as spaces); every label in `0 ..< max + 1` must occur, always with
    /// the same folder. Throws naming the list file and line: a line that is not "path label", a path in another
    /// domain's folder, a missing image, a label named two ways; or a missing test list.
    public static func domainNet(directory: URL, imageSize: Int) throws -> ImageListSource {
        let domains = try contents(of: directory).filter { $0.hasSuffix("_train.txt") }.map { String($0.dropLast(10)) }
        guard !domains.isEmpty else {
            throw PreparedDataError(directory.path, "holds no DOMAIN_train.txt file lists")
        }
        var names: [Int: (name: String, seen: String)] = [:]
        var splits: [PreparedSplit: [Entry]] = [.train: [], .test: []]
        for (domainIndex, domain) in domains.enumerated() {
            for split in PreparedSplit.allCases {
                let list = directory.appendingPathComponent("\(domain)_\(split.rawValue).txt")
                guard let data = FileManager.default.contents(atPath: list.path) else {
                    throw PreparedDataError(list.path, "missing or unreadable (the \(split.rawValue) list of domain "
                                            + "\(domain))")
                }
                let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                for (n, line) in lines.enumerated() {
                    let words = line.split(whereSeparator: \.isWhitespace)
                    if words.isEmpty { continue }
                    let at = "\(list.path) line \(n + 1)"
                    guard words.count == 2, let label = Int(words[1]), label >= 0 else {
                        throw PreparedDataError(at, "expected \"DOMAIN/CLASS/FILE.jpg LABEL\", got \"\(line)\"")
                    }
                    let path = String(words[0]), parts = path.split(separator: "/")
                    guard parts.count >= 3 else {
                        throw PreparedDataError(at, "path \"\(path)\" is not DOMAIN/CLASS/FILE")
                    }
                    guard parts[0] == domain else {
                        throw PreparedDataError(at, "path \"\(path)\" is in folder \"\(parts[0])\", not in the "
                                                + "folder of domain \(domain) whose list this is")
                    }
                    let file = directory.appendingPathComponent(path)
                    guard FileManager.default.fileExists(atPath: file.path) else {
                        throw PreparedDataError(at, "image \(file.path) is missing")
                    }
                    let name = readable(String(parts[parts.count - 2]))
                    if let known = names[label], known.name != name {
                        throw PreparedDataError(at, "label \(label) is class \"\(name)\" here, \"\(known.name)\" at "
                                                + known.seen)
                    }
                    if names[label] == nil { names[label] = (name, at) }
                    splits[split]!.append(Entry(file: file, label: label, domain: domainIndex))
                }
            }
        }
        let classes = (names.keys.max() ?? -1) + 1
        if let absent = (0..<classes).first(where: { names[$0] == nil }) {
            throw PreparedDataError(directory.path, "the file lists use labels up to \(classes - 1) but none is "
                                    + "\(absent): no name for class \(absent)")
        }
        let train = splits[.train]!, test = splits[.test]!
        guard !train.isEmpty, !test.isEmpty else {
            throw PreparedDataError(directory.path, "the file lists hold \(train.count) train and \(test.count) "
                                    + "test images")
        }
        return ImageListSource(
            imageSize: imageSize, classNames: (0..<classes).map { names[$0]!.name }, domainNames: domains,
            notes: ["domainnet: the file lists of domains \(domains.joined(separator: ", ")) (DOMAIN_train.txt, "
                    + "DOMAIN_test.txt), \(classes) classes named by their folders: \(train.count) train, "
                    + "\(test.count) test; one caption per image, \"a photo of a {class}.\""],
            train: train, test: test)
    }
}
