import CLIP
import Distributed
import Prompting

extension VisionTower {
    /// `backward(dEmbeds:promptGradients:batch:)` of the last forward's batch, one layer at a time, starting the
    /// all-reduce of each part of the gradient buffer as soon as `method` says it is final
    /// (`PromptMethod.visionGradientsFinal`), and testing the pending ones between layers so that Open MPI moves
    /// them on (it advances non-blocking collectives only inside MPI calls):
    /// ```
    /// beginBackward(dEmbeds)
    /// for l = L-1 ... lowestBackwardLayer:
    ///     backwardLayer(l)                                           site l + 1, then layer l
    ///     reduce.start(r) for r in method.visionGradientsFinal(afterBackwardLayer: l, in: layout)
    ///     reduce.progress()                                          MPI_Test of every pending bucket
    /// finishBackward()
    /// ```
    /// The same kernels in the same order as `backward`, so the gradients are the same bits; the caller ends
    /// the reduction (`reduce.finish()`) once nothing else adds to the buffer.
    public func backward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?], method: any PromptMethod,
                         layout: ParameterLayout, reduce: BucketedAllreduce<Float>) {
        beginBackward(dEmbeds: dEmbeds, promptGradients: promptGradients)
        for l in (lowestBackwardLayer..<config.encoder.layers).reversed() {
            backwardLayer(l)
            for bucket in method.visionGradientsFinal(afterBackwardLayer: l, in: layout) { reduce.start(bucket) }
            reduce.progress()
        }
        finishBackward()
    }
}
