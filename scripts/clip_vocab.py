"""The real CLIP BPE vocabulary for fixture scripts, taken from PyPI's open-clip-torch wheel
(open_clip/bpe_simple_vocab_16e6.txt.gz) and built the way CLIP builds it; shared by make_clip_fixtures.py and
make_inpainting_fixtures.py (which use it whole, or cut to its first merges for tiny test tokenizers)."""
import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_NAME = "open_clip_torch-3.3.0-py3-none-any.whl"
WHEEL_CACHE = Path("/tmp/openclip") / WHEEL_NAME
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"


def open_clip_wheel() -> Path:
    """The open-clip-torch wheel: the cached copy, else `pip download --no-deps` into a temporary folder."""
    if WHEEL_CACHE.exists():
        return WHEEL_CACHE
    tmp = Path(tempfile.mkdtemp())
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "open-clip-torch==3.3.0", "-d", str(tmp)],
                   check=True)
    return tmp / WHEEL_NAME


def byte_unicode_chars():
    """CLIP's bytes_to_unicode: printable bytes map to themselves, the rest to 256+n, in CLIP's order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def clip_vocab(merge_count: int):
    """CLIP's vocabulary: byte chars, the same + '</w>', the first `merge_count` merges joined, then the specials."""
    with zipfile.ZipFile(open_clip_wheel()) as z:
        lines = gzip.decompress(z.read(BPE_MEMBER)).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:1 + merge_count]]
    assert all(len(m) == 2 for m in merges)
    chars = byte_unicode_chars()
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(set(tokens)) == len(tokens)
    return {t: i for i, t in enumerate(tokens)}, merges


def write_vocab_files(folder: Path, vocab, merges):
    """vocab.json and merges.txt as a diffusers tokenizer folder ships them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
                                       encoding="utf-8")
