/// One seen task's scores in one evaluation; all scores in percent (0...100) as the papers print them.
public struct TaskScores: Codable, Equatable, Sendable {
    public var task: Int
    /// Test images of the task (the queries of image→text; text→image queries its captions).
    public var samples: Int
    /// Classification: class-incremental top-1 over all seen classes.
    public var accuracy: Double?
    /// Retrieval: this task's image queries against all seen tasks' captions.
    public var imageToText: RecallAtK?
    /// Retrieval: this task's caption queries against all seen tasks' images.
    public var textToImage: RecallAtK?
    /// Percent of the task's images whose predicted task is right (per-task methods).
    public var taskIdentity: Double?

    public init(task: Int, samples: Int, accuracy: Double? = nil, imageToText: RecallAtK? = nil,
                textToImage: RecallAtK? = nil, taskIdentity: Double? = nil) {
        self.task = task
        self.samples = samples
        self.accuracy = accuracy
        self.imageToText = imageToText
        self.textToImage = textToImage
        self.taskIdentity = taskIdentity
    }

    /// The accuracy matrix entry: the accuracy, or for retrieval the mean R@1 of both directions.
    /// ```
    /// score = accuracy ?? (imageToText.r1 + textToImage.r1) / 2
    /// ```
    /// Precondition: an accuracy, or both directions' recall (`ScoreSelector.score` checks and throws instead).
    public var score: Double {
        if let accuracy { return accuracy }
        guard let imageToText, let textToImage else {
            preconditionFailure("task \(task): neither an accuracy nor both directions' recall to score")
        }
        return (imageToText.r1 + textToImage.r1) / 2
    }

    enum CodingKeys: String, CodingKey {
        case task, samples, accuracy
        case imageToText = "image_to_text", textToImage = "text_to_image", taskIdentity = "task_identity"
    }
}
