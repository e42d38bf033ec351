#!/usr/bin/env python3
"""Trains Panamax's two small demo models from public-domain / freely licensed Debian text.

    python3 tools/demo-models/train.py                       # everything, ~30 min on 2 cores
    python3 tools/demo-models/train.py --stage prepare       # corpus, split, tokenizers only

Stages (``--stage``, default ``all``):
  prepare  read the corpus from installed Debian packages, clean it, split it deterministically into
           train and held-out, write the held-out files into the repository, train the two
           byte-level BPE tokenizers and tokenize the training text.
  target   train the target model (Qwen2 architecture) and save it as a Hugging Face checkpoint.
  draft    train the draft model (Qwen3 architecture, its own vocabulary) likewise.
  eval     held-out / train perplexity of both checkpoints with transformers, and greedy samples.

Outputs (``--out``, default /work/demo-artifacts): ``target/`` and ``draft/`` (config.json,
model.safetensors, generation_config.json, tokenizer.json, tokenizer_config.json), ``data/``
(intermediate corpus files) and ``report.json``. Into the repository (``--repo``, default the
checkout holding this script): engine/src/test/resources/demo/{held-out.txt,held-out-small.txt}.

Everything is deterministic: fixed seeds, fixed data order, no time-based decisions. The number
of optimiser steps is fixed (not a time budget), so the same command gives the same models up to
floating-point differences between CPUs / thread counts.
"""

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

SEED = 1234

# --------------------------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------------------------

PACKAGES = {
    # package: (file or program it provides, what it is)
    "bible-kjv-text": ("/usr/lib/bible.data", "King James Version text (public domain)"),
    "bible-kjv": ("/usr/bin/bible", "the program that prints that text"),
    "fortunes-min": ("/usr/share/games/fortunes/literature", "selected fortune cookies (BSD)"),
    "python3.11-doc": ("/usr/share/doc/python3.11/html/_sources/tutorial/index.rst.txt",
                       "Python 3.11 documentation sources (PSF licence); the tutorial is used"),
}
FORTUNE_FILES = ["fortunes", "literature", "riddles"]
PY_TUTORIAL = Path("/usr/share/doc/python3.11/html/_sources/tutorial")

HELD_OUT_MODULUS = 64        # a document is held out when sha256(id) % 64 == 0 (about 1.6 %)
HELD_OUT_SMALL_CHARS = 5000


def package_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


def check_packages(install):
    missing = [p for p, (f, _) in PACKAGES.items() if not Path(f).exists()]
    if missing and install:
        print(f"installing {' '.join(missing)} with apt-get", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=False, env=env)
        missing = [p for p, (f, _) in PACKAGES.items() if not Path(f).exists()]
    if missing:
        sys.exit("The corpus comes from Debian packages that are not installed: " + " ".join(missing)
                 + "\nInstall them with:\n  apt-get update && apt-get install -y --no-install-recommends "
                 + " ".join(PACKAGES) + "\n(or rerun with --install-packages, as root).")
    return {p: package_version(p) for p in PACKAGES}


def clean(text):
    """NFC, Unix newlines, no trailing blanks, at most one blank line in a row, no control chars."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    lines = [ln.rstrip() for ln in text.split("\n")]
    out, blank = [], 0
    for ln in lines:
        blank = blank + 1 if not ln else 0
        if blank <= 1:
            out.append(ln)
    return "\n".join(out).strip("\n")


def read_kjv():
    """One document per chapter: 'Genesis 1', a blank line, then one numbered verse per line."""
    out = subprocess.run(["bible", "-l", "100000", "gen1:1-rev22:21"], capture_output=True, text=True,
                         check=True).stdout
    docs, head, verses = [], None, []
    for ln in out.split("\n"):
        m = re.match(r"^\s+(\d+) (.*)$", ln)
        if m:
            verses.append((int(m.group(1)), m.group(2).strip()))
            continue
        m = re.match(r"^(\S.*) (\d+)$", ln)
        if m and not ln.startswith("bible"):
            if head:
                docs.append((head, verses))
            head, verses = ln.strip(), []
    if head:
        docs.append((head, verses))
    if len(docs) != 1189 or sum(len(v) for _, v in docs) != 31102:
        sys.exit(f"unexpected KJV layout: {len(docs)} chapters, {sum(len(v) for _, v in docs)} verses")
    return [{"id": f"kjv/{h}", "source": "kjv", "text": clean(h + "\n\n" + "\n".join(f"{n} {t}" for n, t in vs)),
             "verses": vs, "title": h} for h, vs in docs]


def read_fortunes():
    docs = []
    for name in FORTUNE_FILES:
        raw = Path("/usr/share/games/fortunes", name).read_bytes().decode("utf-8", errors="replace")
        for i, f in enumerate(re.split(r"\n%\n", raw)):
            t = clean(f.strip("%\n"))
            if t:
                docs.append({"id": f"fortunes/{name}/{i}", "source": "fortunes", "text": t})
    return docs


def read_python_tutorial():
    """The tutorial's reST sources, cut into chunks of whole paragraphs of about 2 KB."""
    docs = []
    for p in sorted(PY_TUTORIAL.glob("*.rst.txt")):
        paras = clean(p.read_text(encoding="utf-8")).split("\n\n")
        chunk, k = [], 0
        for para in paras:
            chunk.append(para)
            if sum(len(c) for c in chunk) >= 2000:
                docs.append({"id": f"pytut/{p.name}/{k}", "source": "pytut", "text": "\n\n".join(chunk)})
                chunk, k = [], k + 1
        if chunk:
            docs.append({"id": f"pytut/{p.name}/{k}", "source": "pytut", "text": "\n\n".join(chunk)})
    return docs


def is_held_out(doc_id):
    return int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % HELD_OUT_MODULUS == 0


def interleave(groups):
    """Round-robin over the sources, so that any prefix mixes them."""
    out, i = [], 0
    while any(i < len(g) for g in groups):
        for g in groups:
            if i < len(g):
                out.append(g[i])
        i += 1
    return out


# --------------------------------------------------------------------------------------------
# chat examples (training side only): teach the models their chat format and when to stop
# --------------------------------------------------------------------------------------------

def chat_examples(train_docs, rng):
    ex = []
    for d in train_docs:
        if d["source"] == "kjv":
            for n, v in d["verses"]:
                cut = [m.end() for m in re.finditer(r"[,;:] ", v)]
                if cut and rng.random() < 0.03:
                    c = cut[len(cut) // 2]
                    ex.append((f"Continue this verse from {d['title']}:{n}: {v[:c].strip()}", v[c:].strip()))
                elif rng.random() < 0.008:
                    ex.append((f"Quote {d['title']}:{n}.", v))
        elif d["source"] == "fortunes":
            m = re.match(r"^Q:\s+(.*?)\nA:\s+(.*)$", d["text"], re.S)
            if m:
                ex.append((" ".join(m.group(1).split()), " ".join(m.group(2).split())))
            elif len(d["text"]) < 400 and rng.random() < 0.5:
                ex.append((rng.choice(["Tell me a fortune.", "Say something wise.", "Give me a quotation."]),
                           d["text"]))
    rng.shuffle(ex)
    return ex


TARGET_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
DRAFT_SPECIALS = ["<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]

# Qwen-style ChatML; an assistant turn's reasoning block is dropped from history. With
# enable_thinking=false the generation prompt carries an empty <think> block (as Qwen3 does).
TARGET_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' %}"
    "{%- set content = message.content %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}")
# Zephyr-like, with the draft's own special tokens.
DRAFT_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|' + message.role + '|>\\n' + message.content + '</s>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}")


def render_target_chat(q, a):
    return f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n{a}<|im_end|>\n"


def render_draft_chat(q, a):
    return f"<|user|>\n{q}</s>\n<|assistant|>\n{a}</s>\n"


# --------------------------------------------------------------------------------------------
# model sizes and training settings
# --------------------------------------------------------------------------------------------

TARGET = dict(
    arch="qwen2", bpe_vocab=6000, specials=TARGET_SPECIALS, eos="<|endoftext|>", model_vocab=6144,
    hidden=256, ffn=768, layers=12, heads=4, kv_heads=2, head_dim=64, ctx=512, tied=True,
    batch=4, steps=450, lr=2.5e-3, warmup=30, chat_template=TARGET_CHAT_TEMPLATE, render_chat=render_target_chat)
DRAFT = dict(
    arch="qwen3", bpe_vocab=4091, specials=DRAFT_SPECIALS, eos="</s>", model_vocab=4096,
    hidden=256, ffn=768, layers=4, heads=4, kv_heads=2, head_dim=64, ctx=512, tied=True,
    batch=4, steps=600, lr=5e-3, warmup=30, chat_template=DRAFT_CHAT_TEMPLATE, render_chat=render_draft_chat)

QWEN2_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


# --------------------------------------------------------------------------------------------
# tokenizers
# --------------------------------------------------------------------------------------------

def train_tokenizer(texts, spec):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(byte_fallback=False, ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    # the exact Qwen2 pre-tokenizer, so that GGUF converters name it "qwen2"
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=spec["bpe_vocab"], min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(texts, trainer=trainer)
    # special tokens come after the learned vocabulary, as in Qwen's tokenizers
    tok.add_special_tokens(spec["specials"])
    return tok


def write_tokenizer(tok, spec, d):
    d.mkdir(parents=True, exist_ok=True)
    tok.save(str(d / "tokenizer.json"))
    added = {str(tok.token_to_id(s)): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                       "single_word": False, "special": True} for s in spec["specials"]}
    if spec["arch"] == "qwen2":
        cfg = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added,
               "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
               "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
               "chat_template": spec["chat_template"], "clean_up_tokenization_spaces": False,
               "errors": "replace", "model_max_length": spec["ctx"], "split_special_tokens": False,
               "tokenizer_class": "Qwen2Tokenizer"}
    else:
        cfg = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added,
               "bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>", "unk_token": None,
               "additional_special_tokens": ["<|user|>", "<|assistant|>", "<|system|>"],
               "chat_template": spec["chat_template"], "clean_up_tokenization_spaces": False,
               "errors": "replace", "model_max_length": spec["ctx"], "split_special_tokens": False,
               "tokenizer_class": "Qwen2Tokenizer"}
    (d / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------
# prepare
# --------------------------------------------------------------------------------------------

def prepare(args):
    import numpy as np
    versions = check_packages(args.install_packages)
    print("packages:", versions, flush=True)
    docs = read_kjv() + read_fortunes() + read_python_tutorial()
    train = [d for d in docs if not is_held_out(d["id"])]
    held = [d for d in docs if is_held_out(d["id"])]
    held = interleave([[d for d in held if d["source"] == s] for s in ("kjv", "fortunes", "pytut")])
    held_text = "\n\n".join(d["text"] for d in held) + "\n"
    # the small file: shortest documents of each source first, round-robin, while they fit
    small, n = [], 0
    for d in interleave([sorted((d for d in held if d["source"] == s), key=lambda d: (len(d["text"]), d["id"]))
                         for s in ("kjv", "fortunes", "pytut")]):
        if n + len(d["text"]) + 2 <= HELD_OUT_SMALL_CHARS:
            small.append(d["text"])
            n += len(d["text"]) + 2
    small_text = "\n\n".join(small) + "\n"
    res = Path(args.repo) / "engine/src/test/resources/demo"
    res.mkdir(parents=True, exist_ok=True)
    (res / "held-out.txt").write_text(held_text, encoding="utf-8")
    (res / "held-out-small.txt").write_text(small_text, encoding="utf-8")

    # training order: a fixed shuffle of documents plus the chat examples
    rng = random.Random(SEED)
    chats = chat_examples(train, random.Random(SEED + 1))
    order = list(range(len(train)))
    rng.shuffle(order)
    data = Path(args.out) / "data"
    data.mkdir(parents=True, exist_ok=True)
    train_plain = [train[i]["text"] for i in order]
    (data / "train.txt").write_text("\n\n".join(train_plain) + "\n", encoding="utf-8")

    stats = {"packages": versions, "documents": len(docs), "train_documents": len(train),
             "held_out_documents": len(held), "chat_examples": len(chats),
             "train_chars": sum(len(t) for t in train_plain), "held_out_chars": len(held_text),
             "held_out_small_chars": len(small_text),
             "by_source": {s: {"train_chars": sum(len(d["text"]) for d in train if d["source"] == s),
                               "held_out_chars": sum(len(d["text"]) for d in held if d["source"] == s)}
                           for s in ("kjv", "fortunes", "pytut")}}
    for name, spec in (("target", TARGET), ("draft", DRAFT)):
        chat_texts = [spec["render_chat"](q, a) for q, a in chats]
        tok = train_tokenizer(train_plain + chat_texts, spec)
        write_tokenizer(tok, spec, Path(args.out) / name)
        eos = tok.token_to_id(spec["eos"])
        # documents and chat examples interleaved deterministically: one chat example after every
        # k-th document, each followed by the end-of-text token
        k = max(1, len(train_plain) // max(1, len(chat_texts)))
        stream, ci = [], 0
        items = []
        for i, t in enumerate(train_plain):
            items.append(t)
            while ci < len(chat_texts) and ci * k <= i:
                items.append(chat_texts[ci])
                ci += 1
        items.extend(chat_texts[ci:])
        for enc in tok.encode_batch(items, add_special_tokens=False):
            stream.extend(enc.ids)
            stream.append(eos)
        arr = np.array(stream, dtype=np.uint16)
        arr.tofile(data / f"{name}-train.u16")
        held_ids = tok.encode(held_text, add_special_tokens=False).ids
        stats[name] = {"tokenizer_size": tok.get_vocab_size(), "train_tokens": int(arr.size),
                       "held_out_tokens": len(held_ids),
                       "held_out_chars_per_token": round(len(held_text) / len(held_ids), 3)}
        print(name, stats[name], flush=True)
    (data / "prepare.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps({k: v for k, v in stats.items() if k not in ("target", "draft")}, indent=1), flush=True)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------

def build_model(spec, vocab_ids):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM
    common = dict(vocab_size=spec["model_vocab"], hidden_size=spec["hidden"], intermediate_size=spec["ffn"],
                  num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
                  num_key_value_heads=spec["kv_heads"], max_position_embeddings=spec["ctx"],
                  rope_theta=10000.0, rms_norm_eps=1e-6, hidden_act="silu", initializer_range=0.02,
                  tie_word_embeddings=spec["tied"], use_cache=True, attention_dropout=0.0,
                  bos_token_id=vocab_ids["bos"], eos_token_id=vocab_ids["eos"], pad_token_id=vocab_ids["pad"])
    torch.manual_seed(SEED)
    if spec["arch"] == "qwen2":
        cfg = Qwen2Config(**common, use_sliding_window=False)
        assert spec["hidden"] == spec["heads"] * spec["head_dim"]
        model = Qwen2ForCausalLM(cfg)
    else:
        cfg = Qwen3Config(**common, head_dim=spec["head_dim"], attention_bias=False, use_sliding_window=False)
        model = Qwen3ForCausalLM(cfg)
    return model


def special_ids(name, spec, tok):
    if spec["arch"] == "qwen2":
        return {"bos": tok.token_to_id("<|endoftext|>"), "eos": tok.token_to_id("<|endoftext|>"),
                "pad": tok.token_to_id("<|endoftext|>"), "chat_eos": [tok.token_to_id("<|im_end|>"),
                                                                      tok.token_to_id("<|endoftext|>")]}
    return {"bos": tok.token_to_id("<s>"), "eos": tok.token_to_id("</s>"), "pad": tok.token_to_id("</s>"),
            "chat_eos": [tok.token_to_id("</s>")]}


def train_model(name, spec, args):
    import numpy as np
    import torch
    from tokenizers import Tokenizer
    torch.set_num_threads(args.threads)
    if args.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    out = Path(args.out) / name
    data = Path(args.out) / "data"
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    ids = special_ids(name, spec, tok)
    stream = np.fromfile(data / f"{name}-train.u16", dtype=np.uint16).astype(np.int64)
    T, B, steps = spec["ctx"], spec["batch"], args.steps or spec["steps"]
    n_win = (len(stream) - 1) // T
    windows = torch.from_numpy(stream[: n_win * T].reshape(n_win, T))
    g = np.random.default_rng(SEED)
    order = np.concatenate([g.permutation(n_win) for _ in range(math.ceil(steps * B / n_win) + 1)])
    device = torch.device(args.device)
    model = build_model(spec, ids).to(device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=spec["lr"], betas=(0.9, 0.95), eps=1e-8, foreach=True)
    lr_at = lambda s: spec["lr"] * (min(1.0, (s + 1) / spec["warmup"]) *
                                    (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    print(f"[{name}] {spec['arch']} params {n_params/1e6:.2f}M, {n_win} windows of {T} tokens "
          f"({len(stream)} train tokens), {steps} steps x {B} x {T} = {steps*B*T} tokens", flush=True)
    t0, losses = time.time(), []
    for s in range(steps):
        for grp in opt.param_groups:
            grp["lr"] = lr_at(s)
        x = windows[order[s * B:(s + 1) * B]].to(device)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (s + 1) % args.log_every == 0 or s == steps - 1:
            el = time.time() - t0
            print(f"[{name}] step {s+1}/{steps} loss {sum(losses[-args.log_every:])/len(losses[-args.log_every:]):.3f}"
                  f" lr {lr_at(s):.2e} {el:.0f}s ({(s+1)*B*T/el:.0f} tok/s)", flush=True)
    train_s = time.time() - t0
    model = model.to("cpu")
    model.generation_config.eos_token_id = ids["chat_eos"]
    model.generation_config.pad_token_id = ids["pad"]
    model.generation_config.bos_token_id = ids["bos"]
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    info = {"params": n_params, "steps": steps, "batch": B, "ctx": T, "tokens_seen": steps * B * T,
            "train_tokens": int(len(stream)), "epochs": round(steps * B * T / len(stream), 3),
            "train_seconds": round(train_s, 1), "threads": args.threads, "device": args.device,
            "final_train_loss_avg_last_20": round(sum(losses[-20:]) / len(losses[-20:]), 4),
            "loss_curve": [round(sum(losses[i:i + 10]) / len(losses[i:i + 10]), 4) for i in range(0, steps, 10)]}
    (out / "training.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"[{name}] saved to {out} after {train_s:.0f}s", flush=True)
    return info


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------

def perplexity(model, ids, ctx):
    """One pass over non-overlapping windows of ctx tokens. Returns (ppl over all predicted tokens,
    ppl over the second half of each full window (llama-perplexity's way, no BOS), counts)."""
    import torch
    nll_all = n_all = nll_half = n_half = 0
    with torch.inference_mode():
        for i in range(0, len(ids) - 1, ctx):
            w = ids[i:i + ctx]
            if len(w) < 2:
                break
            x = torch.tensor([w])
            lp = torch.log_softmax(model(input_ids=x).logits[0, :-1].float(), dim=-1)
            tok_nll = -lp.gather(1, x[0, 1:, None])[:, 0]      # position p predicts token p+1
            nll_all += tok_nll.sum().item()
            n_all += tok_nll.numel()
            if len(w) == ctx:
                nll_half += tok_nll[ctx // 2 - 1:].sum().item()
                n_half += tok_nll[ctx // 2 - 1:].numel()
    return (math.exp(nll_all / n_all), nll_all / n_all, n_all,
            math.exp(nll_half / n_half) if n_half else None, n_half)


def evaluate(args):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(args.threads)
    res = Path(args.repo) / "engine/src/test/resources/demo"
    held = (res / "held-out.txt").read_text(encoding="utf-8")
    held_small = (res / "held-out-small.txt").read_text(encoding="utf-8")
    train_txt = (Path(args.out) / "data/train.txt").read_text(encoding="utf-8")
    train_sample = train_txt[:len(held)]
    report = {}
    for name, spec in (("target", TARGET), ("draft", DRAFT)):
        d = Path(args.out) / name
        if not (d / "config.json").exists():
            continue
        tok = AutoTokenizer.from_pretrained(d)
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        r = {"training": json.loads((d / "training.json").read_text())}
        r["training"].pop("loss_curve", None)
        for label, text in (("held_out", held), ("held_out_small", held_small), ("train_sample", train_sample)):
            ids = tok(text, add_special_tokens=False)["input_ids"]
            ppl, nll, n, ppl_half, n_half = perplexity(model, ids, spec["ctx"])
            r[label] = {"tokens": len(ids), "loss": round(nll, 4), "ppl": round(ppl, 3)}
            if ppl_half:
                r[label][f"ppl_llama_c{spec['ctx']}"] = round(ppl_half, 3)
            if label == "held_out_small":
                ppl256 = perplexity(model, ids, 256)[3]
                r[label]["ppl_llama_c256"] = round(ppl256, 3)
        # tokenizer equality check (transformers' fast tokenizer vs raw tokenizers file)
        from tokenizers import Tokenizer
        raw = Tokenizer.from_file(str(d / "tokenizer.json"))
        assert raw.encode(held, add_special_tokens=False).ids == tok(held, add_special_tokens=False)["input_ids"]
        if name == "target":
            r["samples"] = samples(model, tok, spec)
        report[name] = r
        print(name, json.dumps(r, indent=1), flush=True)
    (Path(args.out) / "report.json").write_text(json.dumps(report, indent=1) + "\n")


PROMPTS = ["In the beginning", "And the LORD said unto Moses,", "Blessed are the", "The Python interpreter",
           "A man who"]
CHAT_PROMPTS = ["Tell me a fortune.", "Continue this verse from Psalms 23:1: The LORD is my shepherd;"]


def samples(model, tok, spec, n=40):
    import torch
    out = []
    with torch.no_grad():
        for p in PROMPTS:
            x = tok(p, return_tensors="pt", add_special_tokens=False)
            y = model.generate(**x, max_new_tokens=n, do_sample=False, eos_token_id=None)
            out.append({"prompt": p, "greedy": tok.decode(y[0][x["input_ids"].shape[1]:])})
        for q in CHAT_PROMPTS:
            text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                           add_generation_prompt=True)
            x = tok(text, return_tensors="pt", add_special_tokens=False)
            y = model.generate(**x, max_new_tokens=n, do_sample=False)
            out.append({"chat": q, "greedy": tok.decode(y[0][x["input_ids"].shape[1]:])})
        torch.manual_seed(SEED)
        for p in PROMPTS[:3]:
            x = tok(p, return_tensors="pt", add_special_tokens=False)
            y = model.generate(**x, max_new_tokens=n, do_sample=True, temperature=0.8, top_k=40, eos_token_id=None)
            out.append({"prompt": p, "sampled_t0.8_k40": tok.decode(y[0][x["input_ids"].shape[1]:])})
    for o in out:
        print(json.dumps(o, ensure_ascii=False), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["all", "prepare", "target", "draft", "train", "eval"])
    ap.add_argument("--out", default="/work/demo-artifacts")
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[2]))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu for the reference recipe; cuda for --profile long")
    ap.add_argument("--profile", default="reference", choices=["reference", "long"],
                    help="reference: the 2-core CPU recipe (target 450 steps, draft 600); "
                         "long: 4000 steps each, meant for --device cuda")
    ap.add_argument("--steps", type=int, default=0, help="override both models' step counts (experiments)")
    ap.add_argument("--lr", type=float, default=0, help="override the peak learning rate (experiments only)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--deterministic", action="store_true", help="torch.use_deterministic_algorithms (slow on CPU)")
    ap.add_argument("--install-packages", action="store_true", help="apt-get install missing corpus packages")
    args = ap.parse_args()
    if args.profile == "long":
        # not the 30-minute CPU recipe: 8.2 M tokens per model, for a GPU (about 4 minutes on an H100)
        TARGET["steps"] = DRAFT["steps"] = 4000
    if args.steps:
        TARGET["steps"] = DRAFT["steps"] = args.steps
    if args.lr:
        TARGET["lr"] = DRAFT["lr"] = args.lr
    t0 = time.time()
    if args.stage in ("all", "prepare"):
        prepare(args)
    if args.stage in ("all", "train", "target"):
        train_model("target", TARGET, args)
    if args.stage in ("all", "train", "draft"):
        train_model("draft", DRAFT, args)
    if args.stage in ("all", "eval"):
        evaluate(args)
    print(f"done in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
