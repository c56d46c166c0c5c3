# Writes Tests/EngineTests/Fixtures/smollm2_tokenizer_fuzz.json: random strings mixing scripts, digits,
# whitespace, contractions, emoji, control bytes the vocabulary lacks and special tokens, with the ids
# Hugging Face tokenizers gives them when configured as the reference scripts configure it
# (shared/reference/tok_check.py). Needs: pip install gguf tokenizers.
# Usage: python3 scripts/gen-tokenizer-fuzz.py models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf OUT.json
import sys, json, random
from gguf import GGUFReader
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
f = GGUFReader(sys.argv[1]).fields
tokens = f["tokenizer.ggml.tokens"].contents(); merges = f["tokenizer.ggml.merges"].contents()
tk = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ", 1)) for m in merges]))
tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
tk.decoder = decoders.ByteLevel()
tk.add_special_tokens([t for t, ty in zip(tokens, f["tokenizer.ggml.token_type"].contents()) if ty == 3])
random.seed(7)
pool = list("abcXYZ éàüßñçøÆœ   \t\n\r\n\u00a0\u2003\u3000\u0085\u2028'''\"\"!?.,;:-—–()[]{}<>|/\\@#$%^&*_+=~`0123456789٣४௫½²Ⅻ〇一二日本語中文한국어Привет мир العربية עברית ไทย 🙂😀👍🏽👨‍👩‍👧🇫🇷\u0301\u0308\u200b\u200d\ufeff\x00\x04\x06\x13\x1b\x7f")
pool += ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", " 's", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "<reponame>",
         "\U00040000", "\U0010FFFF", "\ue000", "  ", "\n\n", "    ", "def ", "return ", "http://x.y/z?q=1", "1,000.50", "ǅ", "ʰ", "ⁿ", "𝔘", "𝟙"]
S = ["\ufeffBOM first", "tabs\t\tand  double  spaces  ", "CRLF\r\nline\r\n", "nbsp\u00a0here", "x" * 300, " " * 50 + "end", "12345678901234567890"]
S += ["".join(random.choice(pool) for _ in range(random.randint(1, 40))) for _ in range(300)]
rows = [json.dumps({"text": s, "ids": tk.encode(s).ids}, ensure_ascii=False) for s in S]
open(sys.argv[2], "w", encoding="utf-8").write("[\n" + ",\n".join(rows) + "\n]\n")
