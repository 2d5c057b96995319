#!/usr/bin/env python3
"""Fixtures for the CLIP tokenizer and text encoders (Tests/DiffusionModelsTests/Fixtures/clip/).

CPU only, seeded, nothing from a model hub:
  (a) the real CLIP BPE vocabulary, taken from PyPI's open-clip-torch wheel (open_clip/bpe_simple_vocab_16e6.txt.gz)
      and converted to vocab.json + merges.txt the way CLIP builds its vocabulary; token ids from
      transformers.CLIPTokenizer for a varied prompt list, with both pad conventions (SD 1.x "<|endoftext|>",
      SDXL tokenizer_2 "!"). Only merges.txt is kept: the Swift tests rebuild vocab.json from it by the same rule;
  (b) tiny randomly initialised CLIPTextModel (quick_gelu, fp32) and CLIPTextModelWithProjection (gelu, fp16 variant
      files, pad "!") saved as diffusers-style component folders, with reference outputs.

    pip install torch==2.13.0 transformers safetensors
    python3 scripts/make_clip_fixtures.py
"""
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
# The installed torchvision may not match torch; the text models never need it, so keep transformers from loading it.
sys.modules.setdefault("torchvision", None)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clip_vocab import BPE_MEMBER, clip_vocab, open_clip_wheel, write_vocab_files  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/DiffusionModelsTests/Fixtures/clip"
MAX_LENGTH = 77


def write_tokenizer(folder: Path, vocab, merges, pad: str, write_vocab=True):
    folder.mkdir(parents=True, exist_ok=True)
    if write_vocab:
        write_vocab_files(folder, vocab, merges)
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": pad}
    # The layout of the files a diffusers SD / SDXL tokenizer folder ships.
    config = {"add_prefix_space": False, "do_lower_case": True, "errors": "replace", "model_max_length": MAX_LENGTH,
              "tokenizer_class": "CLIPTokenizer",
              "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": False, "normalized": True,
                            "rstrip": False, "single_word": False},
              "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": True,
                            "rstrip": False, "single_word": False},
              "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": True,
                            "rstrip": False, "single_word": False},
              "pad_token": pad}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")


def load_tokenizer(folder: Path, pad: str):
    return CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), pad_token=pad,
                         model_max_length=MAX_LENGTH)


LONG = ("a highly detailed macro photograph of a scratched copper plate with fine parallel scratches, small dents, "
        "white chalky residue, oxidised green patches, fingerprints, dust, hairline cracks, rough machining marks, "
        "and a faint reflection of the overhead lights on the polished industrial surface, shot at f/8 with a "
        "ring light, 4k, sharp focus, high contrast, studio lighting, neutral background, product photography, "
        "trending on artstation")

PROMPTS = [
    "white marks on the wall",
    "copper metal scratches",
    "smooth, plain, black, dark, shadow",
    "a photo of a cat",
    "A PHOTO OF A DOG",
    "Hello, World!!!",
    "what's up? i'm fine, you're right, we've been there, they'll go, he'd say, it's",
    "don't can't won't isn't",
    "rock'n'roll o'clock",
    "1234567890 and 3.14159 and 1,000,000",
    "room 101, 2nd floor, 42nd street",
    "   extra    whitespace\tand\ttabs\nand\nnewlines   ",
    "café crème brûlée",
    "Über straße naïve façade",
    "e\u0301 decomposed accent (NFC)",
    "東京の夜景 night view of tokyo",
    "中文字符测试",
    "한국어 텍스트",
    "emoji 🙂🔥 test 👍🏽 and 👨‍👩‍👧",
    "fish &amp; chips &lt;b&gt; &quot;quoted&quot; &#39;single&#39;",
    "c++ / c# -- x=y+z; a_b (parens) [brackets] {braces}",
    "e-mail: someone@example.com, url https://example.com/path?q=1",
    "mixedCASE CamelCase snake_case kebab-case",
    "ΑΒΓ Ελληνικά ΟΔΟΣ",
    "Привет мир",
    "a" * 40,
    "scratch " * 5,
    "multiple!!! question??? ellipsis... dash---",
    "'quoted' \"double\" `back`",
    "tab\tseparated\tvalues",
    "‘curly’ “quotes” — em dash – en dash",
    "½ ² ³ ① Ⅻ",
    "x²+y²=z²",
    "<|startoftext|> literal specials <|endoftext|> inside",
    "a",
    ".",
    "",
    LONG,
    LONG + " " + LONG,
    "defect: crack, scratch, dent, stain, hole, rust, contamination, discoloration, deformation",
]


def tokenizer_fixtures(vocab, merges):
    folder = OUT / "vocab"
    write_tokenizer(folder, vocab, merges, pad="<|endoftext|>")
    tok_eos = load_tokenizer(folder, "<|endoftext|>")
    tok_bang = load_tokenizer(folder, "!")
    assert len(tok_eos) == 49408 and tok_eos.bos_token_id == 49406 and tok_eos.eos_token_id == 49407
    assert tok_bang.pad_token_id == 0
    # Well-known CLIP ids (openai/clip-vit-large-patch14's tokenizer).
    assert tok_eos("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407], tok_eos("a photo of a cat")
    cross_check_with_open_clip(tok_eos)
    records = []
    for p in PROMPTS:
        ids_eos = tok_eos(p, padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids
        ids_bang = tok_bang(p, padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids
        # diffusers' encode_prompt: untruncated ids (padding="longest") and the removed text it warns about.
        untruncated = tok_eos(p, padding="longest").input_ids
        truncated = len(untruncated) > MAX_LENGTH
        removed = tok_eos.batch_decode([untruncated[MAX_LENGTH - 1:-1]])[0] if truncated else ""
        records.append({"prompt": p, "ids_pad_eos": ids_eos, "ids_pad_bang": ids_bang,
                        "untruncated_length": len(untruncated), "truncated": truncated, "removed_text": removed})
    (OUT / "tokenizer_ids.json").write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    # vocab.json follows from merges.txt (clip_vocab's rule); the Swift tests rebuild it, so the 0.9 MB file is not kept.
    (folder / "vocab.json").unlink()
    print(f"{len(records)} prompts, truncated: {sum(r['truncated'] for r in records)}")


def cross_check_with_open_clip(tok):
    """The converted files tokenize like CLIP's own SimpleTokenizer (open_clip) on prompts where its extra cleaning
    (ftfy.fix_text, which includes NFC, and html.unescape; not in transformers) changes nothing."""
    import html
    import unicodedata
    import types
    sys.modules.setdefault("ftfy", types.SimpleNamespace(fix_text=lambda s: s))
    with zipfile.ZipFile(open_clip_wheel()) as z, tempfile.TemporaryDirectory() as tmp:
        z.extract("open_clip/tokenizer.py", tmp)
        z.extract(BPE_MEMBER, tmp)
        import importlib.util
        spec = importlib.util.spec_from_file_location("oc_tokenizer", Path(tmp) / "open_clip/tokenizer.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        simple = module.SimpleTokenizer(bpe_path=str(Path(tmp) / BPE_MEMBER))
        checked = 0
        for p in PROMPTS:
            if html.unescape(p) != p or unicodedata.normalize("NFC", p) != p or "<|" in p or "Σ" in p:
                continue  # (transformers lower-cases char by char: no final sigma)
            ours = tok(p).input_ids
            theirs = [simple.sot_token_id] + simple.encode(p) + [simple.eot_token_id]
            assert ours == theirs, (p, ours, theirs)
            checked += 1
        print(f"open_clip SimpleTokenizer agrees on {checked} prompts")


def tiny_models(vocab_full, merges_full):
    torch.manual_seed(0)
    vocab, merges = clip_vocab(486)  # 512 byte tokens + 486 merges + 2 specials = 1000
    assert len(vocab) == 1000
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    common = dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4,
                  max_position_embeddings=MAX_LENGTH, layer_norm_eps=1e-5, bos_token_id=bos, eos_token_id=eos,
                  pad_token_id=1)
    a_cfg = CLIPTextConfig(hidden_act="quick_gelu", projection_dim=32, **common)
    b_cfg = CLIPTextConfig(hidden_act="gelu", projection_dim=32, **common)
    a = CLIPTextModel(a_cfg).eval()
    b = CLIPTextModelWithProjection(b_cfg).eval()
    # Larger-than-default random weights so every layer moves the output.
    with torch.no_grad():
        for m in (a, b):
            for name, p in m.named_parameters():
                if "norm" in name:
                    p.copy_(1 + 0.2 * torch.randn_like(p) if name.endswith("weight") else 0.2 * torch.randn_like(p))
                else:
                    p.copy_(0.3 * torch.randn_like(p))
    tiny = OUT / "tiny"
    a.save_pretrained(tiny / "text_encoder", safe_serialization=True)
    # transformers 5 writes CLIPTextModel keys without the "text_model." prefix; the checkpoints users download
    # (written by transformers 4) carry it. Store this one in the downloaded layout (the Swift tests derive the other).
    weights = tiny / "text_encoder/model.safetensors"
    with safe_open(str(weights), "pt") as f:
        prefixed = {"text_model." + k: f.get_tensor(k) for k in f.keys()}
    save_file(prefixed, str(weights), metadata={"format": "pt"})
    b.half().save_pretrained(tiny / "text_encoder_2", safe_serialization=True, variant="fp16")
    b = b.float()  # the fp16-rounded weights, computed in fp32 as the Swift side does
    write_tokenizer(tiny / "tokenizer", vocab, merges, pad="<|endoftext|>")
    write_tokenizer(tiny / "tokenizer_2", vocab, merges, pad="!")
    tok_a = load_tokenizer(tiny / "tokenizer", "<|endoftext|>")
    tok_b = load_tokenizer(tiny / "tokenizer_2", "!")
    prompts = ["white marks on the wall", "copper metal scratches", "smooth, plain, black, dark, shadow", ""]
    ids_a = torch.tensor(tok_a(prompts, padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids)
    ids_b = torch.tensor(tok_b(prompts, padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids)
    # A sequence without any EOS (pooling falls back to position 0 / the largest id) and a short one (length 5).
    no_eos = torch.randint(1, 990, (1, MAX_LENGTH))
    no_eos[0, 10] = 997  # the largest id, away from position 0
    short = torch.tensor([[bos, 320 % 1000, 500, 7, eos]])
    ref = {"a_input_ids": ids_a, "b_input_ids": ids_b, "no_eos_ids": no_eos, "short_ids": short}
    with torch.no_grad():
        for key, model, ids in (("a", a, ids_a), ("b", b, ids_b)):
            out = model(input_ids=ids, output_hidden_states=True)
            assert len(out.hidden_states) == common["num_hidden_layers"] + 1
            ref[f"{key}_last_hidden_state"] = out.last_hidden_state
            ref[f"{key}_hidden_state_m2"] = out.hidden_states[-2]
            ref[f"{key}_hidden_state_0"] = out.hidden_states[0]
            # diffusers' clip_skip=1: SD takes final_layer_norm(hidden_states[-2]), SDXL hidden_states[-3].
            final_norm = model.text_model.final_layer_norm if hasattr(model, "text_model") else model.final_layer_norm
            ref[f"{key}_clip_skip_1_sd"] = final_norm(out.hidden_states[-2])
            ref[f"{key}_clip_skip_1_sdxl"] = out.hidden_states[-3]
            if key == "a":
                ref["a_pooled"] = out.pooler_output
            else:
                ref["b_text_embeds"] = out.text_embeds
            for extra, eids in (("no_eos", no_eos), ("short", short)):
                o = model(input_ids=eids)
                ref[f"{key}_{extra}_last_hidden_state"] = o.last_hidden_state
                ref[f"{key}_{extra}_{'pooled' if key == 'a' else 'text_embeds'}"] = (
                    o.pooler_output if key == "a" else o.text_embeds)
        # Legacy configs (eos_token_id == 2) pool at argmax(input_ids).
        a.eos_token_id = 2
        ref["a_no_eos_pooled_legacy"] = a(input_ids=no_eos).pooler_output
        ref["a_pooled_legacy"] = a(input_ids=ids_a).pooler_output
    assert not torch.allclose(ref["a_no_eos_pooled_legacy"], ref["a_no_eos_pooled"])
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "tiny_reference.safetensors"))
    (OUT / "tiny_prompts.json").write_text(json.dumps(prompts) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_vocab(49152 - 256 - 2)
    assert len(vocab) == 49408
    tokenizer_fixtures(vocab, merges)
    tiny_models(vocab, merges)
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"fixtures: {total / 2**20:.2f} MiB in {OUT}")


if __name__ == "__main__":
    main()
