import CJPEG
import Foundation

/// Decodes JPEG files to 8-bit RGB with libjpeg-turbo (through the `CJPEG` shim), the way Pillow's
/// `Image.open(path).convert("RGB")` does:
/// - YCbCr, RGB and grayscale JPEGs are converted to RGB by libjpeg (gray repeated in the three channels),
///   with its default decoding settings (accurate integer IDCT, fancy upsampling), as Pillow uses them;
/// - CMYK and YCCK JPEGs come out of libjpeg as CMYK (Adobe-inverted, as Pillow assumes for every CMYK JPEG)
///   and are converted as Pillow's `cmyk2rgb` does (`rgbFromAdobeCMYK`).
///
/// Stricter than Pillow: libjpeg's warnings (a truncated file, corrupt data) fail the decode, where Pillow
/// pads a truncated image with grey only when `ImageFile.LOAD_TRUNCATED_IMAGES` is set and raises otherwise,
/// and passes some corrupt data silently. As lenient as Pillow on junk bytes between the last scan and the EOI
/// marker ("N extraneous bytes before marker 0xd9"): the image is complete, and it decodes. EXIF orientation
/// and ICC profiles are ignored, as transformers' `CLIPImageProcessor` ignores them.
public enum JPEGDecoder {
    /// Decodes `data`; errors name the data `name` (a file's path or a description of where it came from).
    public static func decode(_ data: Data, name: String) throws -> RGBImage {
        var image = CJPEGImage()
        var message = [CChar](repeating: 0, count: Int(CJPEG_MESSAGE_LENGTH))
        let kind = data.withUnsafeBytes { bytes in
            cjpeg_decode(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, &image, &message)
        }
        defer { cjpeg_release(&image) }
        guard kind == CJPEG_OK else {
            let reason: JPEGDecodingError.Reason
            switch kind {
            case CJPEG_EMPTY: reason = .empty
            case CJPEG_NOT_JPEG: reason = .notJPEG
            case CJPEG_TRUNCATED: reason = .truncated
            case CJPEG_CORRUPT: reason = .corrupt
            default: reason = .undecodable
            }
            throw JPEGDecodingError(name: name, reason: reason, message: String(cString: message))
        }
        let width = Int(image.width), height = Int(image.height)
        let decoded = UnsafeBufferPointer(start: image.pixels, count: width * height * Int(image.components))
        let pixels = image.components == 4 ? rgbFromAdobeCMYK(decoded) : Array(decoded)
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Reads and decodes the file at `file`; errors name its path.
    public static func decode(file: URL) throws -> RGBImage {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw JPEGDecodingError(name: file.path, reason: .unreadable, message: error.localizedDescription)
        }
        return try decode(data, name: file.path)
    }

    /// CMYK pixels as libjpeg outputs an Adobe CMYK JPEG (inverted: 255 is no ink) to RGB, as Pillow reads them
    /// (`CMYK;I`, each byte inverted) and converts them (`cmyk2rgb` in Pillow's Convert.c):
    /// ```
    /// ink   = 255 - stored[c],   white = 255 - ink_k = stored[k]
    /// rgb[c] = clamp(white - round(ink * white / 255), 0, 255)        round: ((t >> 8) + t) >> 8, t = a b + 128
    /// ```
    static func rgbFromAdobeCMYK(_ cmyk: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let count = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: count * 3)
        for i in 0..<count {
            let white = Int(cmyk[4 * i + 3])
            for c in 0..<3 {
                let t = (255 - Int(cmyk[4 * i + c])) * white + 128
                rgb[3 * i + c] = UInt8(clamping: white - (((t >> 8) + t) >> 8))
            }
        }
        return rgb
    }
}
