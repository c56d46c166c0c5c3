import Foundation

/// BERT's "basic" tokenization: the normalisation and pre-tokenization that come before WordPiece.
///
/// Follows Hugging Face `tokenizers` (what sentence-transformers runs): `BertNormalizer` (drop NUL,
/// U+FFFD and other/control characters, fold whitespace to a space, put spaces around CJK
/// ideographs, NFD and drop non-spacing marks, lower-case), then `BertPreTokenizer` (split on
/// whitespace, isolate every punctuation character). Works on Unicode scalars, as those libraries do
/// on code points, never on grapheme clusters. Character categories come from Swift's Unicode
/// tables, which are newer than those `tokenizers` was built with: a character assigned since (say,
/// U+061D, a punctuation mark since Unicode 14) can split differently; a fuzz of 3000 random
/// multi-script strings found one such difference and no other.
struct BertBasicTokenizer: Sendable {
    var lowercase = true
    var stripAccents = true
    var splitCJK = true

    /// Normalises `text` and splits it into words, each as a list of scalars.
    func words(_ text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in normalize(text) {
            if BertBasicTokenizer.isWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if BertBasicTokenizer.isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// The `BertNormalizer` steps, in its order: clean, CJK spacing, strip accents, lower-case.
    func normalize(_ text: String) -> [Unicode.Scalar] {
        var cleaned: [Unicode.Scalar] = []
        cleaned.reserveCapacity(text.unicodeScalars.count)
        var allASCII = true
        let space: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x80 {
                // ASCII: controls other than tab, LF and CR are dropped; those three become spaces.
                if v == 0x09 || v == 0x0A || v == 0x0D {
                    cleaned.append(space)
                } else if v >= 0x20 && v != 0x7F {
                    cleaned.append(scalar)
                }
                continue
            }
            allASCII = false
            if v == 0xFFFD || BertBasicTokenizer.isOther(scalar) { continue }
            if scalar.properties.isWhitespace {
                cleaned.append(space)
            } else if splitCJK && BertBasicTokenizer.isCJK(v) {
                cleaned.append(space)
                cleaned.append(scalar)
                cleaned.append(space)
            } else {
                cleaned.append(scalar)
            }
        }
        if allASCII {
            if lowercase {
                for i in cleaned.indices where cleaned[i].value >= 0x41 && cleaned[i].value <= 0x5A {
                    cleaned[i] = Unicode.Scalar(UInt8(cleaned[i].value + 0x20))
                }
            }
            return cleaned
        }
        var scalars = cleaned
        if stripAccents {
            var string = String.UnicodeScalarView()
            string.append(contentsOf: cleaned)
            let decomposed = String(string).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for scalar in scalars {
                if scalar.value < 0x80 {
                    let v = scalar.value
                    lowered.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(UInt8(v + 0x20)) : scalar)
                } else {
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// Unicode's White_Space property (what Rust's `char::is_whitespace` tests).
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        return s.properties.isWhitespace
    }

    /// What `tokenizers` treats as "other" and drops: general categories Cc, Cf, Cs and Co. Unlike
    /// BERT's Python code it keeps unassigned code points (Cn), so we do too.
    static func isOther(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse: return true
        default: return false
        }
    }

    /// BERT's punctuation: the ASCII symbol ranges 33-47, 58-64, 91-96, 123-126, plus Unicode P*.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        if v < 0x80 { return false }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK ideograph blocks BERT spaces out, exactly as `tokenizers` lists them (its Extension E
    /// range starts at U+2B920, not U+2B820 as in the original BERT code; we match the library).
    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v)
            || (0x20000...0x2A6DF).contains(v) || (0x2A700...0x2B73F).contains(v)
            || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
