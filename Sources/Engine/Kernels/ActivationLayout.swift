/// The order in which the quantized kernels visit the 32 elements of a block, so activations can be
/// permuted to match (`ek_kernels.permute`): quarter k of a permuted block holds elements k, 4 + k,
/// ..., 28 + k — the block read as eight groups of four, transposed, which is the order in which the
/// kernels pull nibbles and bytes out of 32-bit lanes with vector shifts.
enum ActivationLayout {
    /// Whether the kernels for `type` read activations in the quarter order (not natural order).
    static func permutes(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q8_0: true
        case .f32, .f16: false
        }
    }
}
