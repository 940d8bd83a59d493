/// `[loss]`: the training objective on the image embeddings of a global batch.
/// ```
/// contrastive:      CLIP's symmetric InfoNCE between images and their captions over the global batch
/// text-classifier:  CE(s * norm(image) . norm(T_c)^T),  T_c = text embedding of template(class c) through the
///                   method's text prompts of the task, trained with them (CoOp, MaPLe); frozen without text prompts
/// linear-head:      CE(image W^T + b),  W (C, E), b (C) trained with the prompts
/// ```
/// The two classifiers range over `classes`: the current task's ("task", the usual choice for prompt
/// methods; every class under `tasks.split = "domain"`) or every class seen so far ("seen").
public struct LossSection: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case contrastive
        case textClassifier = "text-classifier"
        case linearHead = "linear-head"
    }

    public enum Classes: String, Codable, Sendable, CaseIterable {
        case task, seen
    }

    public var kind = Kind.contrastive
    /// The text-classifier's prompt; "{class}" is replaced by the class name.
    public var template = "a photo of a {class}"
    public var classes = Classes.task

    public init() {}

    func validate() throws {
        try ConfigCheck.that(template.contains("{class}"), "loss.template",
                             "must contain {class}, got \"\(template)\"")
    }
}
