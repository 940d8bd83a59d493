import Numerics

extension SyntheticShapes {
    /// Renders sample `index` into `destination` as CLIP-normalised planes (3, S, S), S = imageSize:
    /// ```
    /// background[c, y, x] = level + noise,   noise uniform in [-0.05, 0.05) per pixel and channel
    /// a[y, x]             = shape.coverage(pixel centre - shape centre, radius)      (anti-aliased edge)
    /// value[c, y, x]      = background + a * (colour[c] * brightness - background)
    /// destination[c, y, x] = (value - CLIPPixels.mean[c]) / CLIPPixels.std[c]
    /// ```
    /// Pixel (x, y) has its centre at (x + 0.5, y + 0.5); coverage uses y pointing up. The noise takes one
    /// 64-bit draw per pixel (three 21-bit fields), in raster order, after the sample's parameters.
    public func writePixels(at index: Int, into destination: UnsafeMutablePointer<Float>) {
        var generator = SeededStream.generator(seed: seed, stream: UInt64(index))
        let s = draw(at: index, using: &generator)
        let size = imageSize
        let side = Float(size)
        let (r, g, b) = s.colour.rgb
        let colour = (r * s.brightness, g * s.brightness, b * s.brightness)
        let scale = (1 / CLIPPixels.std[0], 1 / CLIPPixels.std[1], 1 / CLIPPixels.std[2])
        let shift = (CLIPPixels.mean[0], CLIPPixels.mean[1], CLIPPixels.mean[2])
        let centreX = s.centreX * side, centreY = s.centreY * side, radius = s.radius * side
        // Pixels farther than this from the centre along an axis have coverage 0.
        let reach = radius + 1
        let noiseUnit: Float = 0.1 / Float(1 << 21)
        let level = s.backgroundLevel - 0.05
        let red = destination, green = destination + size * size, blue = destination + 2 * size * size
        for y in 0..<size {
            let dy = centreY - (Float(y) + 0.5)
            let rowHitsShape = abs(dy) <= reach
            for x in 0..<size {
                let bits = generator.next()
                let backgroundR = level + Float(bits & 0x1F_FFFF) * noiseUnit
                let backgroundG = level + Float((bits >> 21) & 0x1F_FFFF) * noiseUnit
                let backgroundB = level + Float((bits >> 42) & 0x1F_FFFF) * noiseUnit
                var a: Float = 0
                if rowHitsShape {
                    let dx = Float(x) + 0.5 - centreX
                    if abs(dx) <= reach { a = s.shape.coverage(x: dx, y: dy, radius: radius) }
                }
                let i = y * size + x
                red[i] = (backgroundR + a * (colour.0 - backgroundR) - shift.0) * scale.0
                green[i] = (backgroundG + a * (colour.1 - backgroundG) - shift.1) * scale.1
                blue[i] = (backgroundB + a * (colour.2 - backgroundB) - shift.2) * scale.2
            }
        }
    }
}
