import CLIP
import Distributed
import Foundation
import Prompting
import XCTest
@testable import Continual

/// `[data] path`: the trainer reads a prepared directory's train split, cuts the tasks along the class order
/// its manifest recorded (or, with `tasks.split = "domain"`, along its domains), and refuses a directory that
/// does not fit the config.
final class PreparedTrainingTests: XCTestCase {
    private var scratch: PreparedScratch!

    override func setUpWithError() throws { scratch = try PreparedScratch() }
    override func tearDown() { scratch = nil }

    private func config(dataset: String, path: String, imageSize: Int = 16) throws -> TrainingConfig {
        try ConfigLoader.load(toml: """
            seed = 3
            [model.random]
            image_size = \(imageSize)
            patch_size = 8
            vision_width = 16
            vision_layers = 1
            vision_heads = 2
            text_width = 16
            text_layers = 1
            text_heads = 2
            projection_dim = 8
            [data]
            dataset = "\(dataset)"
            path = "\(path)"
            [tasks]
            count = 4
            [method.vpt]
            tokens = 2
            [train]
            global_batch = 8
            """, source: "prepared-test.toml")
    }

    func testTheTrainerReadsThePreparedTrainSplitInTheRecordedClassOrder() throws {
        let (directory, _) = try scratch.prepare(PreparationSettings(dataset: .synthetic, source: "", imageSize: 16,
                                                                     shardSize: 40, seed: 11, samples: 96))
        let trainer = try Trainer(config: config(dataset: "synthetic", path: directory.path), group: .single)
        let manifest = try PreparedManifest.load(directory: directory)
        XCTAssertEqual(trainer.split.classOrder, manifest.classOrder, "the tasks follow the manifest's class order")
        XCTAssertNotEqual(manifest.classOrder, try TaskSplit(classCount: 48, taskCount: 4, seed: RunSeeds(root: 3).classOrder)
            .classOrder, "which is not the order the run's own seed would draw")
        let dataset = try XCTUnwrap(trainer.dataset as? PreparedDataset, "the dataset is the prepared one")
        XCTAssertEqual(dataset.split, .train, "its train split")
        XCTAssertEqual(dataset.count, 96, "all 96 training samples")
        try trainer.run()
    }

    func testADirectoryThatDoesNotFitTheConfigIsRefused() throws {
        let (directory, _) = try scratch.prepare(PreparationSettings(dataset: .synthetic, source: "", imageSize: 16,
                                                                     shardSize: 40, seed: 11, samples: 96))
        assertThrows(naming: directory.path, ["holds synthetic", "data.dataset is \"fashion-mnist\""], {
            _ = try Trainer(config: self.config(dataset: "fashion-mnist", path: directory.path), group: .single)
        }, "another dataset")
        assertThrows(naming: directory.path, ["holds 16 px images, the model takes 24 px", "--image-size 24"], {
            _ = try Trainer(config: self.config(dataset: "synthetic", path: directory.path, imageSize: 24), group: .single)
        }, "another image size")
        assertThrows(naming: "data.path", ["promptcl prepare --dataset cifar100"], {
            _ = try Trainer(config: self.config(dataset: "cifar100", path: ""), group: .single)
        }, "a real dataset without a prepared directory")
        let missing = scratch.root.appendingPathComponent("nowhere").path
        assertThrows(naming: missing + "/manifest.json", ["not found"], {
            _ = try Trainer(config: self.config(dataset: "synthetic", path: missing), group: .single)
        }, "a directory that was never prepared")
    }

    /// S-Prompts on DomainNet's fixture (2 domains of 3 classes: 4 train and 2 test images each), one task per
    /// domain, as the paper's protocol.
    private func domainConfig(path: String, count: Int = 2) throws -> TrainingConfig {
        try ConfigLoader.load(toml: """
            seed = 5
            [model.random]
            image_size = 16
            patch_size = 8
            vision_width = 16
            vision_layers = 1
            vision_heads = 2
            text_width = 16
            text_layers = 1
            text_heads = 2
            projection_dim = 8
            [data]
            dataset = "domainnet"
            path = "\(path)"
            [tasks]
            count = \(count)
            split = "domain"
            epochs = 2
            [method]
            name = "s-prompts"
            [method.sprompts]
            vision_tokens = 2
            text_tokens = 2
            [method.task_identity]
            centroids = 2
            [loss]
            kind = "text-classifier"
            classes = "task"
            [evaluation]
            kind = "classification"
            [train]
            global_batch = 2
            """, source: "domain-test.toml")
    }

    private final class Events: TrainingObserver {
        var starts: [TaskStart] = []
        var evaluations: [EvaluationRecord] = []
        var steps = 0
        func taskStarted(_ start: TaskStart) throws { starts.append(start) }
        func stepFinished(_ record: StepRecord) throws { steps += 1 }
        func taskFinished(_ end: TaskEnd, parameters: TrainableParameters, prompts: PromptSet?) throws {}
        func nullSpaceUpdated(_ update: NullSpaceRecord, factors: [LayerNullSpaceFactors]) throws {}
        func taskKeysFitted(_ record: TaskKeysRecord, image: TaskKeys, text: TaskKeys) throws {}
        func evaluationFinished(_ record: EvaluationRecord) throws { evaluations.append(record) }
    }

    func testADomainSplitTrainsEachDomainOverEveryClassAndEvaluatesTheDomainsSeen() throws {
        let (directory, _) = try scratch.prepare(PreparedScratch.settings(.domainnet, "domainnet", imageSize: 16))
        let trainer = try Trainer(config: domainConfig(path: directory.path), group: .single)
        let events = Events()
        trainer.observer = events
        XCTAssertEqual(trainer.split.kind, .domainIncremental, "tasks.split = \"domain\"")
        XCTAssertEqual(trainer.split.domainNames, ["clipart", "sketch"], "the manifest's domains, in order")
        XCTAssertEqual(trainer.split.indices(ofTask: 0, in: trainer.dataset), [0, 1, 2, 3], "task 0: clipart's images")
        XCTAssertEqual(trainer.split.indices(ofTask: 1, in: trainer.dataset), [4, 5, 6, 7], "task 1: sketch's images")
        XCTAssertEqual(trainer.classesInPlay(task: 1), [0, 1, 2], "loss.classes \"task\": every class")
        try trainer.run()

        XCTAssertEqual(events.starts.map(\.domain), ["clipart", "sketch"], "each task started with its domain")
        XCTAssertEqual(events.starts.map(\.classes), [[0, 1, 2], [0, 1, 2]], "over every class")
        XCTAssertEqual(events.starts.map(\.samples), [4, 4], "on its domain's 4 training images")
        XCTAssertEqual(events.steps, 2 * 2 * 2, "2 tasks x 2 epochs x 2 steps of 2 images")
        XCTAssertEqual(trainer.taskKeys?.image.taskCount, 2, "one set of k-means keys per domain")
        XCTAssertEqual(events.evaluations.map { $0.tasks.map(\.task) }, [[0], [0, 1]],
                       "after task t: the test images of domains 0...t")
        XCTAssertEqual(events.evaluations.map { $0.tasks.map(\.samples) }, [[2], [2, 2]],
                       "each domain's 2 test images")
        for record in events.evaluations {
            for scores in record.tasks {
                let accuracy = try XCTUnwrap(scores.accuracy, "after task \(record.task): domain \(scores.task)'s accuracy")
                XCTAssertTrue([0, 50, 100].contains(accuracy), "of 2 images: \(accuracy)")
                XCTAssertNotNil(scores.taskIdentity, "and how often its domain was recognised")
            }
        }
    }

    func testADomainSplitWithoutFittingDomainsIsRefused() throws {
        let (domainnet, _) = try scratch.prepare(PreparedScratch.settings(.domainnet, "domainnet", imageSize: 16),
                                                 out: "domainnet")
        assertThrows(naming: "tasks.count 3", ["data.path \(domainnet.path) has 2", "clipart, sketch"], {
            _ = try Trainer(config: self.domainConfig(path: domainnet.path, count: 3), group: .single)
        }, "a task count other than the domain count")

        let manifestURL = domainnet.appendingPathComponent("manifest.json")
        var old = try PreparedManifest.load(directory: domainnet)
        (old.version, old.domainNames, old.splits.train.domains, old.splits.test.domains) = (1, nil, nil, nil)
        try PreparedFormat.json(old).write(to: manifestURL)
        assertThrows(naming: manifestURL.path, ["format version 1", "run the same `promptcl prepare` again"], {
            _ = try Trainer(config: self.domainConfig(path: domainnet.path), group: .single)
        }, "a DomainNet directory prepared before domains were recorded")

        let (cifar, _) = try scratch.prepare(PreparedScratch.settings(.cifar100, "cifar100", imageSize: 16), out: "cifar")
        var config = try domainConfig(path: cifar.path)
        config.data.dataset = .cifar100
        assertThrows(naming: cifar.appendingPathComponent("manifest.json").path,
                     ["tasks.split \"domain\"", "records no domains (cifar100 has none"], {
            _ = try Trainer(config: config, group: .single)
        }, "a prepared dataset without domains")

        assertThrows(naming: "tasks.split", ["needs a dataset with domains", "the synthetic set has none"], {
            _ = try ConfigLoader.load(toml: "[tasks]\nsplit = \"domain\"", source: "synthetic-domains.toml")
        }, "the synthetic set generated on the fly")
        assertThrows(naming: "tasks.split", ["must be one of: class, domain"], {
            _ = try ConfigLoader.load(toml: "[tasks]\nsplit = \"domains\"", source: "typo.toml")
        }, "an unknown split kind, with the choices")
    }
}
