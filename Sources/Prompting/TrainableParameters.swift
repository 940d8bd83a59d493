import CLIP

/// A method's trainable tensors in one flat buffer, with a gradient buffer of the same layout (llm.c):
/// one all-reduce and one optimiser loop touch them all. Tensors are named (`vpt.layer3`, ...) and keep
/// their shapes for checkpoints and `prompts.safetensors`.
public final class TrainableParameters {
    public let layout: ParameterLayout
    public let values: ParameterBuffer
    public let gradients: ParameterBuffer

    public init(layout: ParameterLayout) {
        self.layout = layout
        values = ParameterBuffer(layout: layout)
        gradients = ParameterBuffer(layout: layout)
    }

    /// Number of trainable floats.
    public var count: Int { layout.count }

    /// Adds every trainable tensor, by name and shape (F32), to `writer`: prompts.safetensors and checkpoints.
    public func addValues(to writer: inout SafetensorsWriter) throws {
        for entry in layout.entries {
            try writer.add(entry.name, shape: entry.shape, floats: values.values(entry.name))
        }
    }
}
