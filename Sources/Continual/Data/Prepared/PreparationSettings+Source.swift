import Foundation

extension PreparationSettings {
    /// The reader of `dataset` over `source`, opened for `imageSize`.
    func openSource() throws -> any SourceDataset {
        let directory = URL(fileURLWithPath: source)
        if dataset != .synthetic {
            var isDirectory: ObjCBool = false
            guard !source.isEmpty, FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory),
                  isDirectory.boolValue else {
                throw PreparedDataError(source.isEmpty ? "--source" : source,
                                        "the \(dataset.rawValue) source directory does not exist")
            }
        }
        switch dataset {
        case .synthetic:
            guard let samples else { throw PreparedDataError("--samples", "the synthetic set needs a sample count") }
            return try SyntheticSource(samples: samples, imageSize: imageSize, seed: seed)
        case .fashionMNIST:
            return try FashionMNISTSource(directory: directory, imageSize: imageSize)
        case .cifar100:
            return try CIFAR100Source(directory: directory, imageSize: imageSize)
        case .imagenetR:
            return try ImageListSource.classFolders(directory: directory, imageSize: imageSize, seed: seed)
        case .domainnet:
            return try ImageListSource.domainNet(directory: directory, imageSize: imageSize)
        case .coco:
            return try COCOSource(directory: directory, imageSize: imageSize)
        }
    }
}
