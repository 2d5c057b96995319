import TensorCore

/// Token + position embedding sum, as CLIPTextEmbeddings: out[b, t] = tokenTable[ids[b][t]] + positionTable[t].
///
/// `tokenTable` (V, D), `positionTable` (P, D) with P >= L, `ids` B rows of L ids in 0..<V -> (B, L, D).
/// Callers check the ids (`CLIPTextModel` throws on bad input); here they are a precondition.
///
/// ```swift
/// let h = embeddingLookup(ids: [[49406, 320, 49407]], tokenTable: tok, positionTable: pos)   // (1, 3, 768)
/// ```
func embeddingLookup(ids: [[Int]], tokenTable: Tensor, positionTable: Tensor) -> Tensor {
    let b = ids.count, l = ids.first?.count ?? 0
    let v = tokenTable.shape[0], d = tokenTable.shape[1]
    precondition(positionTable.shape[1] == d && positionTable.shape[0] >= l, "embeddingLookup: position table \(positionTable.shape)")
    var out = Tensor(zeros: [b, l, d])
    out.withUnsafeMutableBufferPointer { po in
        tokenTable.withUnsafeBufferPointer { pt in
            positionTable.withUnsafeBufferPointer { pp in
                for (row, sequence) in ids.enumerated() {
                    precondition(sequence.count == l, "embeddingLookup: ragged batch")
                    for (t, id) in sequence.enumerated() {
                        precondition(id >= 0 && id < v, "embeddingLookup: id \(id) outside 0..<\(v)")
                        let o = po.baseAddress! + (row * l + t) * d
                        let tok = pt.baseAddress! + id * d, pos = pp.baseAddress! + t * d
                        for i in 0..<d { o[i] = tok[i] + pos[i] }
                    }
                }
            }
        }
    }
    return out
}
