import Distributed
import Foundation
import XCTest
@testable import Continual

/// `[data] path`: the trainer reads a prepared directory's train split, cuts the tasks along the class order
/// its manifest recorded, and refuses a directory that does not fit the config.
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
}
