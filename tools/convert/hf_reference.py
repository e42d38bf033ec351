#!/usr/bin/env python3
"""
Tiny Hugging Face models saved by transformers, with reference outputs, for the tests of
`panamax convert` and `panamax perplexity` (engine ConvertTest / PerplexityReferenceTest).

    python3 tools/convert/hf_reference.py OUT_DIR

writes, deterministically (fixed seeds, 1 torch thread):

    OUT_DIR/qwen2/   Qwen2ForCausalLM, float32 checkpoint, q/k/v biases, untied lm_head,
                     YaRN rope (factor 4, original 32): model.safetensors
    OUT_DIR/qwen3/   Qwen3ForCausalLM, float16 checkpoint, explicit head_dim 32 (!= 64/4), q/k norms,
                     tied embeddings: model.safetensors
    OUT_DIR/llama/   LlamaForCausalLM, bfloat16 checkpoint, GQA, untied, sharded into several
                     model-0000k-of-0000n.safetensors with model.safetensors.index.json;
                     tokenizer adds BOS (TemplateProcessing)
    each with tokenizer.json + tokenizer_config.json (byte-level BPE over the fixture vocabulary,
    chat template, bos/eos) saved by PreTrainedTokenizerFast.save_pretrained
    OUT_DIR/reference.json:
      models.<name>.prompt / logits      float32 transformers logits (eager attention) on exactly the
                                         stored weights (bf16/f16 upcast), every prompt position
      models.<name>.tokenization         HF ids of sample texts (no special tokens added)
      models.<name>.perplexity           llama-perplexity on TEXT with n_ctx 32: chunks of 32
                                         tokens, first token replaced by BOS when the tokenizer adds
                                         BOS, the second half of each chunk scored (float64
                                         log-softmax); per-chunk running PPL and the final value
                                         with llama.cpp's error estimate

Needs torch, transformers, tokenizers, numpy (the tests skip, saying so, without them).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures"))
import make_reference_models as fx  # noqa: E402  (vocabulary, merges, chat templates)

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
PROMPT = [72, 256, 101, 271, 17, 44, 280, 116, 0, 255, 262, 88, 3, 130]
N_CTX = 32
TEXT = ("The cat sat on the mat. The dog is in the house, and the bird is on the tree. "
        "It is what they are doing; we will see what happens in the end. "
        "In the morning the sun rises, at noon it is hot, and in the evening it is cool again. "
        "Numbers like 12345 and 3.14159 appear in the text too, as do words such as often, "
        "seldom, and never. The quick brown fox jumps over the lazy dog near the river bank. ") * 2

MODELS = {
    "qwen2": dict(cls="Qwen2", hidden=64, layers=2, heads=4, kv=2, head_dim=None, ffn=128, eps=1e-6,
                  theta=10000.0, tied=False, dtype="float32", shard=None, seed=101,
                  rope=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=32), ctx=256),
    "qwen3": dict(cls="Qwen3", hidden=64, layers=2, heads=4, kv=2, head_dim=32, ffn=128, eps=1e-6,
                  theta=1000000.0, tied=True, dtype="float16", shard=None, seed=202, rope=None, ctx=256),
    "llama": dict(cls="Llama", hidden=64, layers=3, heads=4, kv=2, head_dim=16, ffn=96, eps=1e-5,
                  theta=10000.0, tied=False, dtype="bfloat16", shard="40KB", seed=303, rope=None, ctx=256),
}


def tokenizer(arch: str):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    vocab_arch = "llama" if arch == "llama" else "qwen2"
    tokens, types, _, info = fx.build_vocab(vocab_arch)
    vocab = {t: i for i, t in enumerate(tokens) if types[i] == fx.T_NORMAL}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=list(fx.MERGES), ignore_merges=(arch == "llama")))
    regex = fx.LLAMA3_REGEX if arch == "llama" else QWEN2_REGEX
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tk.decoder = decoders.ByteLevel()
    added = [AddedToken(t, special=(types[i] == fx.T_CONTROL), normalized=False)
             for i, t in enumerate(tokens) if types[i] in (fx.T_CONTROL, fx.T_USER_DEFINED)]
    tk.add_tokens(added)
    bos = tokens[info["bos"]]
    eos = tokens[info["eos"]]
    if info["add_bos"]:
        tk.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                          special_tokens=[(bos, info["bos"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token=bos, eos_token=eos,
                                   pad_token=tokens[info["pad"]] if info["pad"] is not None else None)
    fast.chat_template = info["chat_template"]
    return fast, info, len([t for t in tokens if not t.startswith("[PAD")])


def build(arch: str, spec: dict, out: Path) -> dict:
    import torch
    import transformers
    torch.manual_seed(spec["seed"])
    cfg_cls = getattr(transformers, spec["cls"] + "Config")
    model_cls = getattr(transformers, spec["cls"] + "ForCausalLM")
    kwargs = dict(vocab_size=fx.VOCAB, hidden_size=spec["hidden"], intermediate_size=spec["ffn"],
                  num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
                  num_key_value_heads=spec["kv"], max_position_embeddings=spec["ctx"], rms_norm_eps=spec["eps"],
                  tie_word_embeddings=spec["tied"], hidden_act="silu")
    rope = {"rope_type": "default", "rope_theta": spec["theta"]}
    if spec["rope"]:
        rope = {**spec["rope"], "rope_theta": spec["theta"]}
    kwargs["rope_parameters"] = rope
    if spec["head_dim"] is not None:
        kwargs["head_dim"] = spec["head_dim"]
    fast, info, _ = tokenizer(arch)
    kwargs["bos_token_id"] = info["bos"]
    kwargs["eos_token_id"] = info["eos"]
    cfg = cfg_cls(**kwargs)
    cfg._attn_implementation = "eager"
    model = model_cls(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p)) if name.endswith("norm.weight") else p.copy_(0.3 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (1.5 / math.sqrt(p.shape[1])))
    dtype = getattr(torch, spec["dtype"])
    model = model.to(dtype)
    d = out / arch
    if spec["shard"]:
        model.save_pretrained(d, max_shard_size=spec["shard"])
    else:
        model.save_pretrained(d)
    fast.save_pretrained(d)
    # reference: float32 compute on exactly the stored weights
    ref = model_cls.from_pretrained(d, dtype=torch.float32).eval()
    ref.config._attn_implementation = "eager"
    with torch.no_grad():
        logits = ref(torch.tensor([PROMPT])).logits[0].double().numpy()
    samples = list(fx.TOKENIZER_SAMPLES) + ["<|im_start|>user\nHi<|im_end|>"]
    tokenization = [{"text": s, "ids": fast(s, add_special_tokens=False)["input_ids"]} for s in samples]
    return {"dir": arch, "architecture": arch, "dtype": spec["dtype"], "tied": spec["tied"], "add_bos": info["add_bos"],
            "bos": info["bos"], "eos": info["eos"], "prompt": PROMPT,
            "logits": [[float(f"{v:.7g}") for v in row] for row in logits],
            "tokenization": tokenization, "perplexity": perplexity(ref, fast, info)}


def perplexity(model, fast, info) -> dict:
    """llama-perplexity's algorithm (tools/perplexity/perplexity.cpp, perplexity())."""
    import torch
    tokens = fast(TEXT, add_special_tokens=False)["input_ids"]
    if info["add_bos"]:
        tokens = [info["bos"]] + tokens
    n_chunk = len(tokens) // N_CTX
    first = N_CTX // 2
    nll = nll2 = 0.0
    count = 0
    running = []
    for i in range(n_chunk):
        chunk = list(tokens[i * N_CTX:(i + 1) * N_CTX])
        if info["add_bos"]:
            chunk[0] = info["bos"]
        with torch.no_grad():
            logits = model(torch.tensor([chunk])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        for j in range(first, N_CTX - 1):
            v = -float(logp[j, tokens[i * N_CTX + j + 1]])
            nll += v
            nll2 += v * v
            count += 1
        running.append(math.exp(nll / count))
    mean = nll / count
    var = nll2 / count - mean * mean
    ppl = math.exp(mean)
    err = math.sqrt(var / (count - 1)) * ppl
    return {"text": TEXT, "n_ctx": N_CTX, "tokens": tokens, "chunks": n_chunk, "scored": count,
            "running_ppl": running, "ppl": ppl, "ppl_error": err}


def main() -> None:
    import torch
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    import transformers
    result = {"schema": "panamax.convert-reference/1", "transformers": transformers.__version__,
              "torch": torch.__version__, "models": {}}
    for arch, spec in MODELS.items():
        result["models"][arch] = build(arch, spec, out)
    (out / "reference.json").write_text(json.dumps(result))
    print("ok", out)


if __name__ == "__main__":
    main()
