/// Image score = largest patch score, and which patch has it (the first one on ties, as
/// `torch.argmax`). This is the image score of patchcore-inspection (`PatchMaker.score`) and of
/// anomalib with `num_neighbors = 1`.
///
/// ```swift
/// let (score, patch) = try maxPatchScore([0.2, 0.9, 0.4])   // (0.9, 1)
/// ```
public func maxPatchScore(_ patchScores: [Float]) throws -> (score: Float, patch: Int) {
    guard var best = patchScores.first else {
        throw ScoringError.shapeMismatch(what: "patch scores", expected: "at least one patch", actual: [0])
    }
    var index = 0
    for (i, s) in patchScores.enumerated() where s > best || (best.isNaN && !s.isNaN) {
        best = s; index = i
    }
    return (best, index)
}
