import Foundation

extension DatasetPreparer {
    /// Samples read in parallel at a time (their images are held before they are written).
    static let readBatch = 256

    /// Writes `job`'s three files: images streamed in batches read in parallel, then labels and captions.
    func write(_ job: ShardJob) throws {
        let plane = 3 * settings.imageSize * settings.imageSize
        let path = { (kind: ShardKind) in
            self.directory.appendingPathComponent(PreparedFormat.fileName(split: job.split, shard: job.index,
                                                                          kind: kind)).path
        }
        let images = try ShardFileWriter(path: path(.images))
        var labels: [UInt8] = []
        labels.reserveCapacity(4 * job.count)
        var captions: [[String]] = []
        captions.reserveCapacity(job.count)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.readBatch * plane)
        defer { buffer.deallocate() }
        for start in stride(from: 0, to: job.count, by: Self.readBatch) {
            let n = min(Self.readBatch, job.count - start)
            let samples = try readBatch(job.split, first: job.first + start, count: n, into: buffer, plane: plane)
            try images.append(UnsafeRawBufferPointer(start: buffer, count: n * plane))
            for sample in samples {
                withUnsafeBytes(of: Int32(sample.label).littleEndian) { labels += $0 }
                captions.append(sample.captions)
            }
        }
        try images.finish(ShardHeader(kind: .images, count: job.count,
                                      shape: [3, settings.imageSize, settings.imageSize]))
        let labelFile = try ShardFileWriter(path: path(.labels))
        try labelFile.append(labels)
        try labelFile.finish(ShardHeader(kind: .labels, count: job.count, shape: [0, 0, 0]))
        let payload = ShardCaptions.payload(captions)
        let captionFile = try ShardFileWriter(path: path(.captions))
        try captionFile.append(payload.bytes)
        try captionFile.finish(ShardHeader(kind: .captions, count: job.count,
                                           shape: [payload.captions, payload.textBytes, 0]))
    }

    /// Reads samples `first ..< first + count` of `split` in parallel, images to `buffer` (count, 3, S, S);
    /// throws the first failure in sample order.
    private func readBatch(_ split: PreparedSplit, first: Int, count: Int, into buffer: UnsafeMutablePointer<UInt8>,
                           plane: Int) throws -> [SourceSample] {
        let results = UnsafeMutablePointer<Result<SourceSample, Error>>.allocate(capacity: count)
        defer { results.deinitialize(count: count).deallocate() }
        let source = self.source, classes = source.classNames.count
        DispatchQueue.concurrentPerform(iterations: count) { i in
            (results + i).initialize(to: Result {
                let sample = try source.read(first + i, of: split, into: buffer + i * plane)
                precondition((0..<classes).contains(sample.label) && !sample.captions.isEmpty,
                             "\(split.rawValue) sample \(first + i): the reader gave label \(sample.label) of "
                             + "\(classes) classes and \(sample.captions.count) captions")
                return sample
            })
        }
        return try (0..<count).map { try results[$0].get() }
    }
}
