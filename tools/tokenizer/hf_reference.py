#!/usr/bin/env python3
"""Hugging Face `tokenizers` / `gguf` reference for Panamax's tokenizer tests (test-time only).

  hf_reference.py encode INPUT.json OUTPUT.json
      INPUT: {"tokenizer_json": path, "variants": [...], "texts": [...]}
      OUTPUT: {variant: {"ids": [[...], ...], "decoded": [...]}}
      Variants re-dress one tokenizer.json (normally Qwen's) with another pre-tokenizer so every
      Panamax pre-tokenizer is checked against the reference on a real vocabulary:
        qwen2            as is (NFC, qwen2 split); every added token is matched
        qwen2-nospecial  as is with encode_special_tokens=True (special=true tokens spelled out)
        qwen35           the Qwen3.5 split regex (letters and marks), NFC
        llama3           the Llama 3 split regex (digits in threes), ignore_merges, no normalizer
        gpt2             ByteLevel(use_regex=True), no normalizer
        starcoder        Digits(individual_digits) + ByteLevel(use_regex=True), no normalizer

  hf_reference.py gguf TOKENIZER_DIR OUT.gguf VOCAB_SIZE
      Writes a tensor-less GGUF with the gguf package's tokenizer support, the way llama.cpp's
      converter does (token types with its "looks special" rule, [PADn] padding, SpecialVocab).

  hf_reference.py fixture TOKENIZER_JSON OUT.json
      Regenerates the committed parity fixture (the corpus below, ids with and without special
      parsing, and the decoded text).
"""
import json
import sys

QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN35 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def split_then_bytelevel(regex):
    from tokenizers import Regex, pre_tokenizers
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])


def byte_level_regex():
    from tokenizers import pre_tokenizers
    return pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)


def configure(t, name):
    """Re-dresses the loaded tokenizer as the named variant (each call starts from the original)."""
    from tokenizers import normalizers, pre_tokenizers
    t.encode_special_tokens = name == "qwen2-nospecial"
    t.model.ignore_merges = name == "llama3"
    t.normalizer = normalizers.NFC() if name in ("qwen2", "qwen2-nospecial", "qwen35") else None
    if name in ("qwen2", "qwen2-nospecial"):
        t.pre_tokenizer = split_then_bytelevel(QWEN2)
    elif name == "qwen35":
        t.pre_tokenizer = split_then_bytelevel(QWEN35)
    elif name == "llama3":
        t.pre_tokenizer = split_then_bytelevel(LLAMA3)
    elif name == "gpt2":
        t.pre_tokenizer = byte_level_regex()
    elif name == "starcoder":
        t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level_regex()])
    else:
        raise SystemExit("unknown variant " + name)
    return t


def encode(inp, out):
    from tokenizers import Tokenizer
    with open(inp, encoding="utf-8") as f:
        req = json.load(f)
    t = Tokenizer.from_file(req["tokenizer_json"])
    result = {}
    for name in req["variants"]:
        configure(t, name)
        encs = t.encode_batch(req["texts"], add_special_tokens=False)
        ids = [e.ids for e in encs]
        result[name] = {"ids": ids, "decoded": t.decode_batch(ids, skip_special_tokens=False)}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


def looks_special(text):
    # llama.cpp convert_hf_to_gguf.py: does_token_look_special
    return (text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
            or (text.startswith("<|") and text.endswith("|>"))
            or (text.startswith("<\uff5c") and text.endswith("\uff5c>"))
            or (text.startswith("<start_of_") or text.startswith("<end_of_")))


def write_gguf(tok_dir, out, vocab_size):
    import gguf
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tok_dir + "/tokenizer.json")
    vocab = tok.get_vocab(with_added_tokens=True)
    added = tok.get_added_tokens_decoder()
    rev = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(int(vocab_size)):
        if i not in rev:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(rev[i])
            types.append(gguf.TokenType.CONTROL if added[i].special or looks_special(rev[i])
                         else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(rev[i])
            types.append(gguf.TokenType.NORMAL)
    w = gguf.GGUFWriter(out, "qwen3")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    sv = gguf.SpecialVocab(tok_dir, load_merges=True, n_vocab=len(tokens))
    sv._set_special_token("bos", vocab["<|endoftext|>"])  # as llama.cpp's qwen2 conversion
    sv.add_to_gguf(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def corpus():
    long_b64 = "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7919 + i // 3) % 64]
                       for i in range(1500))
    return [
        "",
        " ",
        "\n",
        "Hello world",
        "The quick brown fox jumps over the lazy dog. It's 5 o'clock; we're late, aren't we? I'LL GO, you'D SEE.",
        "In 1492, Columbus sailed the ocean blue. Pi is 3.14159265358979; e is 2.718281828459045.",
        "1234567890123456789012345678901234567890 and 1,000,000.00 and -42 and 0x7fffffff and 1e-10",
        "Numbers elsewhere: \u0661\u0662\u0663 \uff11\uff12\uff13 \u00b2\u00b3 \u216b \u2460\u2461 \u0967\u0968",
        "def fib(n):\n\tif n < 2:\n\t\treturn n\n\treturn fib(n - 1) + fib(n - 2)\n",
        "public static void main(String[] args) {\n    System.out.println(\"hi\");\n        // comment\n}\n",
        "{\n  \"key\": [1, 2, 3],\n  \"nested\": {\"a\": null, \"b\": true}\n}",
        "    leading spaces and trailing spaces    ",
        "a" + " " * 50 + "b",
        "\n\n\n\n\nfive newlines then text\n\n",
        " \n \n  \n\t\n x",
        "line one\r\nline two\r\n\r\nline four\rcarriage",
        "tabs\t\tand\t \tmixed \t whitespace\u000b\u000cvertical",
        "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002\u6211\u4eec\u5728\u5317\u4eac\u3002",
        "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3068\u30ab\u30bf\u30ab\u30ca\u3001\u3072\u3089\u304c\u306a\u3002",
        "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4. \uc548\ub155\ud558\uc138\uc694!",
        "Emoji: \U0001F600\U0001F603\U0001F604 \U0001F44D\U0001F3FD \U0001F1EF\U0001F1F5 \u2764\ufe0f",
        "ZWJ: \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 \U0001F3F3\ufe0f\u200d\U0001F308 "
        "\U0001F9D1\U0001F3FF\u200d\U0001F4BB",
        "Rare: \U0001FAE8 \U0001F9CC \U00010348 \U0001D54F \U00020000\U0002A6D6",
        "Combining: Ame\u0301lie, nin\u0303o, Zoe\u0308, a\u030a, \u1e9b\u0323 q\u0307\u0323",
        "Precomposed: Am\u00e9lie, ni\u00f1o, Zo\u00eb, \u00e5ngstr\u00f6m, \u0130stanbul, stra\u00dfe",
        "Vietnamese: Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u. Hindi: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
        "Arabic: \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645. Hebrew: \u05e9\u05dc\u05d5\u05dd. "
        "Thai: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
        "Cyrillic: \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! Greek: \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text<|endoftext|><|endoftext|>",
        "<think>\nLet me reason about it.\n</think>\n\nThe answer is 42.",
        "Partial <|im_start and <|im_end|| and <|im_start|><|im_end|> and <<|im_start|>>",
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call><|fim_prefix|>x<|fim_suffix|>",
        "Control: \u0000\u0001\u0002\u001b[31mred\u001b[0m \u007f \u0085 \u200b \ufeff \u2028 \u2029 \u00a0 \u3000 end",
        "Odd spaces:\u2000\u2001\u2002\u200a\u202f\u205f\u1680|\u180e|\u00ad|",
        "'s 'S 'tis 're 'Ve 'm 'll 'LL 'd ''s x's X'S don't DON'T \u2019s 'x",
        "URLs: https://example.com/path?q=1&r=2#frag and mailto:a.b@c.de",
        "Math: \u2200x\u2208\u211d, x\u00b2 \u2265 0; \u222b\u2080\u00b9 f(x)dx \u2248 \u03c0/4 \u00b1 \u03b5",
        "a" * 3000,
        "supercalifragilisticexpialidocious" * 60,
        long_b64,
        "\U0001F600" * 200,
        "\u4e2d" * 500,
        "-" * 400 + "\n" + "=" * 300 + "\n" + "." * 200,
        " " * 1000,
        "\n" * 300,
        "word " * 200,
    ]


def fixture(tok_json, out):
    import hashlib
    import tokenizers
    texts = corpus()
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(tok_json)
    ids = [e.ids for e in configure(t, "qwen2").encode_batch(texts, add_special_tokens=False)]
    decoded = t.decode_batch(ids, skip_special_tokens=False)
    ids_ns = [e.ids for e in configure(t, "qwen2-nospecial").encode_batch(texts, add_special_tokens=False)]
    cases = [{"text": x, "ids": i, "ids_nospecial": n, "decoded": d} for x, i, n, d in zip(texts, ids, ids_ns, decoded)]
    with open(tok_json, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    doc = {"generator": "tools/tokenizer/hf_reference.py fixture (tokenizers " + tokenizers.__version__ + ")",
           "tokenizer_sha256": digest, "cases": cases}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "encode":
        encode(sys.argv[2], sys.argv[3])
    elif cmd == "gguf":
        write_gguf(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "fixture":
        fixture(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
