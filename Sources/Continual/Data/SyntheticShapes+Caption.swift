extension SyntheticShapes {
    /// Number of caption templates a sample draws from (see `caption(at:)`).
    static let captionTemplateCount = 3

    /// Every wording of the sample, its own template's first (as COCO has several captions per image): what the
    /// retrieval evaluation puts in the gallery.
    public func captions(at index: Int) -> [String] {
        let s = sample(at: index)
        return (0..<Self.captionTemplateCount).map { (s.template + $0) % Self.captionTemplateCount }.map {
            Self.caption(colour: s.colour, shape: s.shape, isLarge: s.isLarge, placement: s.placement, template: $0)
        }
    }

    /// The sample's caption, by its template, with what = "a large red circle", where = "in the upper left":
    /// ```
    /// 0: "{what} {where}"    1: "a photo of {what} {where}"    2: "{where}, {what}"
    /// ```
    public func caption(at index: Int) -> String {
        let s = sample(at: index)
        return Self.caption(colour: s.colour, shape: s.shape, isLarge: s.isLarge, placement: s.placement,
                            template: s.template)
    }

    /// The caption template `template` (0..<3, as `caption(at:)`) words these attributes with.
    public static func caption(colour: SyntheticColour, shape: SyntheticShape, isLarge: Bool,
                               placement: SyntheticPlacement, template: Int) -> String {
        let what = "a \(isLarge ? "large" : "small") \(colour.name) \(shape.name)"
        switch template {
        case 0: return "\(what) \(placement.phrase)"
        case 1: return "a photo of \(what) \(placement.phrase)"
        default: return "\(placement.phrase), \(what)"
        }
    }

    /// Every caption that can describe a sample of class `c`: 2 sizes x 9 placements x 3 templates.
    public static func captions(ofClass c: Int) -> [String] {
        [false, true].flatMap { isLarge in
            SyntheticPlacement.allCases.flatMap { placement in
                (0..<captionTemplateCount).map { template in
                    caption(colour: colour(ofClass: c), shape: shape(ofClass: c), isLarge: isLarge,
                            placement: placement, template: template)
                }
            }
        }
    }
}
