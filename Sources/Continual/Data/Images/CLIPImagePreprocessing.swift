/// CLIP's image preprocessing up to the uint8 crop, as Hugging Face transformers' `CLIPImageProcessorPil` does it
/// with `size={"shortest_edge": S}`, `crop_size={"height": S, "width": S}`, `resample=BICUBIC` before its
/// rescale and normalisation (those are `CLIPPixels.normalise`):
/// ```
/// (h', w')  = (S, trunc(S * w / h))  if h < w,  else (trunc(S * h / w), S)   get_resize_output_image_size
/// resized   = Pillow's Image.resize((w', h'), BICUBIC) of the RGB image       two separable passes
/// top       = (h' - S) / 2,   left = (w' - S) / 2                             center_crop (floor division)
/// out[c, y, x] = resized[top + y, left + x, c]                                (3, S, S) planar uint8
/// ```
/// The resampling reproduces Pillow's fixed-point arithmetic bit for bit (`PillowBicubicWeights`), including
/// the order of its two passes, which changes the rounding of the intermediate image: since Pillow 13.0 the
/// vertical pass runs first when the height shrinks by more than twice as many pixels as the width
/// (`(h - h') > 0 && (h - h') > 2 (w - w')`), the horizontal pass first otherwise (always, before 13.0). Only the
/// rows and columns that survive the crop are computed.
///
/// transformers 5's default `CLIPImageProcessor` (torchvision backend) resizes with torch's antialiased bicubic
/// instead, which differs from Pillow by one level at a few pixels.
public enum CLIPImagePreprocessing {
    /// `image` resized so that its shorter side is `size` and centre-cropped to `size` x `size`: (3, size, size)
    /// planar uint8, channels red, green, blue.
    public static func resizeAndCrop(_ image: RGBImage, size: Int) -> [UInt8] {
        precondition(size > 0, "crop size \(size)")
        let resized = resizedSize(width: image.width, height: image.height, shortestEdge: size)
        let shrinkX = image.width - resized.width, shrinkY = image.height - resized.height
        if shrinkY > 0 && shrinkY > 2 * shrinkX {
            // Vertical pass first: the horizontal-first resize of the transposed image, transposed back.
            let crop = horizontalThenVertical(transposed(image), width: resized.height, height: resized.width,
                                              size: size)
            return transposedPlanes(crop, size: size)
        }
        return horizontalThenVertical(image, width: resized.width, height: resized.height, size: size)
    }

    /// The size the image is resized to before the crop: the shorter side becomes `shortestEdge`, the longer
    /// `trunc(shortestEdge * long / short)` (transformers' `get_resize_output_image_size`, default_to_square
    /// false; a square image gives a square).
    static func resizedSize(width: Int, height: Int, shortestEdge: Int) -> (width: Int, height: Int) {
        let long = Int(Double(shortestEdge * max(width, height)) / Double(min(width, height)))
        return width <= height ? (shortestEdge, long) : (long, shortestEdge)
    }

    /// Pillow's resize of `image` to `width` x `height`, horizontal pass first, then the centre `size` x `size`
    /// crop: (3, size, size) planar. An axis whose size does not change is not resampled (as in Pillow).
    private static func horizontalThenVertical(_ image: RGBImage, width: Int, height: Int, size: Int) -> [UInt8] {
        let left = (width - size) / 2, top = (height - size) / 2
        let resizeColumns = width != image.width, resizeRows = height != image.height
        let columns = PillowBicubicWeights(inputSize: image.width, outputSize: width)
        let rows = PillowBicubicWeights(inputSize: image.height, outputSize: height)

        // Input rows read by the kept output rows (just those rows when the height is unchanged).
        let inputRows = resizeRows
            ? rows.first[top]..<(top..<top + size).map { rows.first[$0] + rows.count[$0] }.max()!
            : top..<top + size

        // Horizontal pass: the kept columns of the input rows.        (inputRows.count, size, 3) interleaved
        var band = [UInt8](repeating: 0, count: inputRows.count * size * 3)
        image.pixels.withUnsafeBufferPointer { input in
            let input = input.baseAddress!, rowStride = image.width * 3
            for (r, y) in inputRows.enumerated() {
                for x in 0..<size {
                    for c in 0..<3 {
                        band[(r * size + x) * 3 + c] = resizeColumns
                            ? columns.sample(left + x, input, offset: y * rowStride + c, stride: 3)
                            : input[y * rowStride + (left + x) * 3 + c]
                    }
                }
            }
        }

        // Vertical pass: the kept rows, written planar.                (3, size, size)
        var output = [UInt8](repeating: 0, count: 3 * size * size)
        band.withUnsafeBufferPointer { band in
            let band = band.baseAddress!, rowStride = size * 3
            for y in 0..<size {
                for x in 0..<size {
                    for c in 0..<3 {
                        output[(c * size + y) * size + x] = resizeRows
                            ? rows.sample(top + y, band, offset: -inputRows.lowerBound * rowStride + x * 3 + c,
                                          stride: rowStride)
                            : band[(y * size + x) * 3 + c]
                    }
                }
            }
        }
        return output
    }

    /// `image` with x and y swapped: (width, height, 3).
    private static func transposed(_ image: RGBImage) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: image.pixels.count)
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 { pixels[(x * image.height + y) * 3 + c] = image.pixels[(y * image.width + x) * 3 + c] }
            }
        }
        return RGBImage(width: image.height, height: image.width, pixels: pixels)
    }

    /// Each of the three (size, size) planes transposed.
    private static func transposedPlanes(_ planes: [UInt8], size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: planes.count)
        for c in 0..<3 {
            for y in 0..<size {
                for x in 0..<size { out[(c * size + x) * size + y] = planes[(c * size + y) * size + x] }
            }
        }
        return out
    }
}
