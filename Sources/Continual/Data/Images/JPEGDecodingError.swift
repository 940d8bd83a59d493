/// Why a JPEG could not be decoded: the file (or the name the caller gave the bytes), what is wrong with it,
/// and libjpeg's own message.
public struct JPEGDecodingError: Error, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// The file could not be read at all (missing, a directory, no permission).
        case unreadable = "cannot read the file"
        case empty = "empty file"
        case notJPEG = "not a JPEG"
        /// The data ends before the image does (libjpeg: "Premature end of JPEG file").
        case truncated = "truncated"
        /// libjpeg warned about the entropy-coded data ("Corrupt JPEG data: ..."), which it would have patched
        /// over with grey.
        case corrupt = "corrupt"
        /// Any other libjpeg error (a corrupt header, 12-bit samples, an unsupported colour space, ...).
        case undecodable = "cannot be decoded"
    }

    /// The file's path, or the name the bytes were given.
    public let name: String
    public let reason: Reason
    /// libjpeg's message (or the reader's, for `unreadable`).
    public let message: String

    public var description: String { "JPEG \(name): \(reason.rawValue): \(message)" }
}
