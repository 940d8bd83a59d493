import Foundation

/// The header of a safetensors file, parsed and validated against the file's size.
///
/// Layout of the file:
/// ```
/// [0, 8)              u64 little-endian N: the header's length in bytes
/// [8, 8 + N)          UTF-8 JSON object: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
///                                         "__metadata__": {"key": "value", ...}}   (may end in padding spaces)
/// [8 + N, file end)   the data section; tensor "name" is the bytes [8 + N + b, 8 + N + e)
/// ```
/// Checked: the prefix and header fit in the file and N is at most 100 MB (the reference implementation's
/// limit); the JSON is an object with no duplicate keys; every entry has exactly `dtype` (a known name),
/// `shape` (non-negative integers) and `data_offsets` (two integers, begin <= end) whose span is the
/// shape's element count times the dtype's size; every span lies inside the data section; no two
/// non-empty spans overlap. Gaps between spans and bytes after the last are allowed.
struct SafetensorsHeader {
    /// The tensors by name.
    let tensors: [String: TensorInfo]
    /// `__metadata__`, or empty when the file has none.
    let metadata: [String: String]
    /// Offset of the data section from the start of the file: 8 + N.
    let dataStart: Int

    /// The largest header accepted, in bytes (`MAX_HEADER_SIZE` of the Rust safetensors crate).
    static let maximumLength = 100_000_000

    /// Parses the header of `file`, the whole file's bytes; `url` names it in errors.
    init(file: UnsafeRawBufferPointer, url: URL) throws {
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(url, problem) }

        guard file.count >= 8 else {
            throw fail("file is \(file.count) bytes, shorter than the 8-byte header length; not a safetensors file")
        }
        let headerLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(SafetensorsHeader.maximumLength) else {
            throw fail("header length \(headerLength) bytes is over the \(SafetensorsHeader.maximumLength)-byte limit; "
                       + "not a safetensors file, or a corrupted one")
        }
        guard 8 + Int(headerLength) <= file.count else {
            throw fail("header length \(headerLength) bytes is larger than the file (\(file.count) bytes); "
                       + "truncated, or not a safetensors file")
        }
        dataStart = 8 + Int(headerLength)

        let json: JSONValue
        do {
            json = try JSONValue(parsing: Array(file[8..<dataStart]))
        } catch {
            throw fail("header is not UTF-8 JSON: \(error)")
        }
        guard case .object(let entries) = json else {
            throw fail("header is \(json.typeDescription), expected a JSON object")
        }

        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                metadata = try SafetensorsHeader.metadata(entry, fail: fail)
            } else {
                tensors[name] = try SafetensorsHeader.tensor(name, entry, fail: fail)
            }
        }
        self.tensors = tensors
        self.metadata = metadata
        try checkSpans(fileSize: file.count, fail: fail)
    }

    private static func metadata(_ value: JSONValue, fail: (String) -> SafetensorsError) throws -> [String: String] {
        guard case .object(let members) = value else {
            throw fail("__metadata__ is \(value.typeDescription), expected an object of strings")
        }
        return try members.mapValues { member in
            guard case .string(let string) = member else {
                throw fail("__metadata__ values must be strings, found \(member.typeDescription)")
            }
            return string
        }
    }

    private static func tensor(_ name: String, _ value: JSONValue,
                               fail: (String) -> SafetensorsError) throws -> TensorInfo {
        func bad(_ problem: String) -> SafetensorsError { fail("tensor '\(name)': \(problem)") }
        let keys = ["dtype", "shape", "data_offsets"]
        guard case .object(let fields) = value else {
            throw bad("entry is \(value.typeDescription), expected an object with dtype, shape and data_offsets")
        }
        if let unknown = fields.keys.sorted().first(where: { !keys.contains($0) }) {
            throw bad("unknown key \"\(unknown)\" (expected dtype, shape and data_offsets)")
        }
        if let missing = keys.first(where: { fields[$0] == nil }) {
            throw bad("missing \"\(missing)\"")
        }

        guard case .string(let dtypeName) = fields["dtype"]! else {
            throw bad("dtype is \(fields["dtype"]!.typeDescription), expected a string")
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            let known = TensorDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw bad("unknown dtype \"\(dtypeName)\" (known: \(known))")
        }

        let shape = try integers(fields["shape"]!, "shape", bad: bad)
        if let negative = shape.first(where: { $0 < 0 }) {
            throw bad("negative dimension \(negative) in shape \(shape)")
        }
        var byteCount = dtype.byteCount
        for dimension in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw bad("shape \(shape) is too large") }
            byteCount = product
        }

        let offsets = try integers(fields["data_offsets"]!, "data_offsets", bad: bad)
        guard offsets.count == 2 else {
            throw bad("data_offsets \(offsets) must be two integers [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end else {
            throw bad("data_offsets \(offsets) must satisfy 0 <= begin <= end")
        }
        guard end - begin == byteCount else {
            throw bad("data_offsets \(offsets) span \(end - begin) bytes, but shape \(shape) of \(dtype.rawValue) "
                      + "needs \(byteCount)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    private static func integers(_ value: JSONValue, _ key: String,
                                 bad: (String) -> SafetensorsError) throws -> [Int] {
        guard case .array(let elements) = value else {
            throw bad("\(key) is \(value.typeDescription), expected an array of integers")
        }
        return try elements.map { element in
            guard case .int(let integer) = element else {
                throw bad("\(key) holds \(element.typeDescription), expected integers")
            }
            return integer
        }
    }

    /// Every span inside the data section, and no two non-empty spans overlapping.
    private func checkSpans(fileSize: Int, fail: (String) -> SafetensorsError) throws {
        let dataLength = fileSize - dataStart
        let byEnd = tensors.values.sorted { ($0.byteRange.upperBound, $0.name) < ($1.byteRange.upperBound, $1.name) }
        if let last = byEnd.last, last.byteRange.upperBound > dataLength {
            throw fail("truncated: needs \(dataStart + last.byteRange.upperBound) bytes, file has \(fileSize) "
                       + "(tensor '\(last.name)' ends at data offset \(last.byteRange.upperBound), "
                       + "the data section has \(dataLength) bytes)")
        }
        let byBegin = tensors.values.filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        for (previous, next) in zip(byBegin, byBegin.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw fail("tensors '\(previous.name)' (data_offsets \(SafetensorsHeader.describe(previous.byteRange))) "
                       + "and '\(next.name)' (data_offsets \(SafetensorsHeader.describe(next.byteRange))) overlap")
        }
    }

    private static func describe(_ range: Range<Int>) -> String { "[\(range.lowerBound), \(range.upperBound)]" }
}
