/// An 8-bit RGB image as decoded from a file: rows top to bottom, pixels left to right, channels interleaved.
/// ```
/// pixels[(y * width + x) * 3 + c]        (height, width, 3), c = 0 red, 1 green, 2 blue
/// ```
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// (height, width, 3) interleaved RGB.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "image of \(width) x \(height) pixels")
        precondition(pixels.count == width * height * 3,
                     "\(pixels.count) bytes for a \(width) x \(height) RGB image (expected \(width * height * 3))")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A gray image as RGB, each gray value repeated in the three channels: `gray` is (height, width).
    public init(width: Int, height: Int, gray: [UInt8]) {
        precondition(gray.count == width * height,
                     "\(gray.count) bytes for a \(width) x \(height) gray image (expected \(width * height))")
        var pixels = [UInt8](repeating: 0, count: gray.count * 3)
        for (i, value) in gray.enumerated() {
            pixels[3 * i] = value
            pixels[3 * i + 1] = value
            pixels[3 * i + 2] = value
        }
        self.init(width: width, height: height, pixels: pixels)
    }
}
