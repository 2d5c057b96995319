#!/usr/bin/env bash
# Writes the fuzz seed corpora to bench/fuzz/corpus/<Target>/ (git-ignored): small valid files copied from the
# test fixtures plus tiny ones made here with the Python standard library (PNG, pickles, safetensors, model files,
# CSV manifests). Re-runnable; libFuzzer adds what it finds to the same folders.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/bench/fuzz/corpus}"
mkdir -p "$out"
cd "$root"

seed() {  # seed <Target> <file>...: copy files no larger than 64 KB into the target's corpus
    local target="$1"; shift
    mkdir -p "$out/$target"
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(stat -c %s "$f")" -le 65536 ] || continue
        cp "$f" "$out/$target/seed-$(echo "$f" | tr '/' '_')"
    done
}

seed FuzzImageDecode Tests/ImageIOTests/Fixtures/*.png Tests/ImageIOTests/Fixtures/*.jpg
seed FuzzTorchCheckpoint Tests/CheckpointsTests/Fixtures/*.pth Tests/CheckpointsTests/Fixtures/*.pkl
seed FuzzUnpickler Tests/CheckpointsTests/Fixtures/*.pkl
seed FuzzSafeTensors Tests/CheckpointsTests/Fixtures/*.safetensors
seed FuzzModelFile Tests/PatchCoreTests/Fixtures/model_format*.safetensors
seed FuzzDiffusersConfig Tests/DiffusionModelsTests/Fixtures/unet/*/config.json \
    Tests/DiffusionModelsTests/Fixtures/vae/*/config.json Tests/DiffusionModelsTests/Fixtures/clip/tiny/*/config.json \
    Tests/DiffusionSchedulersTests/Fixtures/*scheduler_config.json

python3 - "$out" <<'PY'
import collections, io, json, os, pickle, struct, sys, zipfile, zlib

out = sys.argv[1]
def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, "gen-" + name), "wb") as f:
        f.write(data)

# PNG: every colour type and bit depth the decoder handles, tiny.
def png(width, height, color_type, depth, rows, extra=b"", interlace=0):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
put("FuzzImageDecode", "gray8_1x1.png", png(1, 1, 0, 8, [b"\x80"]))
put("FuzzImageDecode", "rgb8_2x2.png", png(2, 2, 2, 8, [b"\xff\x00\x00\x00\xff\x00", b"\x00\x00\xff\xff\xff\xff"]))
put("FuzzImageDecode", "rgba8_1x2.png", png(1, 2, 6, 8, [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]))
put("FuzzImageDecode", "graya8_2x1.png", png(2, 1, 4, 8, [b"\x10\x20\x30\x40"]))
put("FuzzImageDecode", "rgb16_1x1.png", png(1, 1, 2, 16, [b"\x12\x34\x56\x78\x9a\xbc"]))
put("FuzzImageDecode", "gray1_8x1.png", png(8, 1, 0, 1, [b"\xa5"]))
plte = struct.pack(">I", 6) + b"PLTE" + b"\x00\x00\x00\xff\xff\xff"
plte += struct.pack(">I", zlib.crc32(b"PLTE\x00\x00\x00\xff\xff\xff") & 0xFFFFFFFF)
put("FuzzImageDecode", "palette_2x1.png", png(2, 1, 3, 8, [b"\x00\x01"], extra=plte))
put("FuzzImageDecode", "gray8_3x3_interlaced.png", png(3, 3, 0, 8, [b"\x01\x02\x03"] * 3, interlace=1))

# Pickles: what torch.save writes for state dicts, plus every container and scalar kind, protocols 2-5.
values = {
    "ordered_dict": collections.OrderedDict([("a", 1), ("b", [1.5, -2, None, True]), ("c", (b"xy", "z"))]),
    "nested": [[[(1,)]], {"k": {"k": (2**70, -2**64)}}],
    "scalars": (0, 255, 65535, 2**31, -1, 3.25, float("inf"), "é", b"\x00" * 3, bytearray(b"ab"), None, False),
    "shared": (lambda l: [l, l, {"x": l}])([1, 2]),
    "set": {1, 2, 3},
}
for name, v in values.items():
    for proto in (2, 3, 4, 5):
        put("FuzzUnpickler", f"{name}_p{proto}.pkl", pickle.dumps(v, protocol=proto))

# A torch-style state dict pickle without torch: the same opcodes (GLOBAL torch._utils._rebuild_tensor_v2,
# BINPERSID storage tuples) hand-assembled, protocol 2.
def torch_pickle(tensors):
    p = io.BytesIO()
    w = p.write
    w(b"\x80\x02")
    w(b"ccollections\nOrderedDict\n)R")          # GLOBAL + EMPTY_TUPLE + REDUCE
    w(b"(")                                       # MARK
    for i, (name, shape) in enumerate(tensors):
        numel = 1
        for s in shape: numel *= s
        key = str(i).encode()
        w(b"X" + struct.pack("<I", len(name)) + name.encode())
        w(b"ctorch._utils\n_rebuild_tensor_v2\n")
        w(b"(")                                   # args tuple
        w(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX" + struct.pack("<I", len(key)) + key)
        w(b"X\x03\x00\x00\x00cpuK" + bytes([numel]) + b"tQ")   # tuple, BINPERSID
        w(b"K\x00")                               # storage offset
        w(b"(" + b"".join(b"K" + bytes([s]) for s in shape) + b"t")   # size
        stride, strides = 1, []
        for s in reversed(shape): strides.insert(0, stride); stride *= s
        w(b"(" + b"".join(b"K" + bytes([s]) for s in strides) + b"t")  # stride
        w(b"\x89")                                # requires_grad False
        w(b"ccollections\nOrderedDict\n)R")       # backward hooks
        w(b"tR")                                  # TUPLE + REDUCE
    w(b"u.")                                      # SETITEMS + STOP
    return p.getvalue()
state = torch_pickle([("weight", (2, 3)), ("bias", (2,))])
put("FuzzUnpickler", "state_dict_p2.pkl", state)
# ...and the zip checkpoint around it (stored entries, as torch writes them).
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", state)
    z.writestr("archive/byteorder", "little")
    z.writestr("archive/data/0", struct.pack("<6f", *range(6)))
    z.writestr("archive/data/1", struct.pack("<2f", 0.5, -0.5))
    z.writestr("archive/version", "3\n")
put("FuzzTorchCheckpoint", "tiny_zip.pth", buf.getvalue())
# The object pickles inside the committed zip fixtures are unpickler seeds too.
fixtures = "Tests/CheckpointsTests/Fixtures"
for f in sorted(os.listdir(fixtures)):
    if f.endswith(".pth"):
        try:
            with zipfile.ZipFile(os.path.join(fixtures, f)) as z:
                for n in z.namelist():
                    if n.endswith("data.pkl"):
                        put("FuzzUnpickler", f + ".data.pkl", z.read(n))
        except zipfile.BadZipFile:
            pass

# safetensors: header length, JSON header, raw little-endian data.
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
put("FuzzSafeTensors", "f32.safetensors", safetensors({"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))}))
put("FuzzSafeTensors", "f16_bf16.safetensors", safetensors({"h": ("F16", [3], b"\x00\x3c" * 3), "b": ("BF16", [1, 2], b"\x80\x3f" * 2)}))
put("FuzzSafeTensors", "scalar_meta.safetensors", safetensors({"s": ("F32", [], struct.pack("<f", 7))}, {"format": "pt"}))
put("FuzzSafeTensors", "empty.safetensors", safetensors({}))
put("FuzzSafeTensors", "zero_dim.safetensors", safetensors({"z": ("F32", [0, 4], b"")}))

# Model files: the committed format-1 fixture shrunk to a 2-row bank (metadata kept), and the same with a
# dual block removed/kept from the format-2 fixture.
def shrink(path, rows):
    d = open(path, "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    header = json.loads(d[8:8 + n])
    meta = header.pop("__metadata__")
    tensors = {}
    for name, e in header.items():
        cols = e["shape"][1]
        b, _ = e["data_offsets"]
        raw = d[8 + n + b: 8 + n + b + rows * cols * 4]
        tensors[name] = ("F32", [rows, cols], raw)
    return safetensors(tensors, meta)
put("FuzzModelFile", "format1_2rows.safetensors", shrink("Tests/PatchCoreTests/Fixtures/model_format1_plain.safetensors", 2))
put("FuzzModelFile", "format2_dual_2rows.safetensors", shrink("Tests/PatchCoreTests/Fixtures/model_format2_dual.safetensors", 2))

# CSV manifests.
csvs = {
    "basic.csv": "image,mask,label,split\ngood/1.png,,good,train\nbad/1.png,masks/1.png,defect,test\n",
    "types.csv": "\ufeffImage,Label,Split,Defect_Type\r\na.jpg,ok,train,good\r\n\"b,1.jpg\",ng,test,\"scratch \"\"deep\"\"\"\r\n",
    "absolute.csv": "split,label,image\ntest,anomaly,/abs/path.png\n\n\ntrain,normal,rel.png\n",
    "quoted_newline.csv": "image,label,split\n\"multi\nline.png\",good,train\n",
}
for name, text in csvs.items():
    put("FuzzManifest", name, text.encode())

# Scheduler configs beyond the fixtures: each class, Python's non-standard floats, trained betas.
schedulers = [
    {"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
     "beta_schedule": "scaled_linear", "use_karras_sigmas": True, "timestep_spacing": "leading", "steps_offset": 1},
    {"_class_name": "DDIMScheduler", "num_train_timesteps": 20, "trained_betas": [0.01] * 20, "set_alpha_to_one": False,
     "clip_sample": False, "timestep_spacing": "trailing", "rescale_betas_zero_snr": True},
    {"_class_name": "PNDMScheduler", "num_train_timesteps": 100, "skip_prk_steps": True, "beta_schedule": "linear"},
    {"_class_name": "DPMSolverMultistepScheduler", "num_train_timesteps": 1000, "solver_order": 2,
     "algorithm_type": "dpmsolver++", "final_sigmas_type": "zero", "beta_schedule": "squaredcos_cap_v2"},
]
for i, s in enumerate(schedulers):
    put("FuzzDiffusersConfig", f"scheduler_{i}.json", json.dumps(s).encode())
put("FuzzDiffusersConfig", "scheduler_nonfinite.json",
    b'{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "sigma_max": NaN}')

# Service request bodies (FuzzServiceRequest): the first byte picks the decoder (see the target).
def multipart(boundary, parts):
    body = b""
    for name, data in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + name.encode() \
            + b"\"\r\nContent-Type: image/png\r\n\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"
tiny = png(1, 1, 0, 8, [b"\x80"])
b = b"XyZ123boundary"
put("FuzzServiceRequest", "multipart.bin", b"\x00" + bytes([len(b)]) + b + multipart(b, [("test/crack/000.png", tiny), ("test/crack/000_mask.png", tiny), ("notes.txt", b"x")]))
put("FuzzServiceRequest", "multipart_empty.bin", b"\x00\x01-" + b"---\r\n")
zbuf = io.BytesIO()
with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("test/good/000.png", tiny)
    z.writestr("ground_truth/crack/001_mask.png", tiny)
    z.writestr("test/crack/001.png", tiny)
    z.writestr("__MACOSX/._x.png", b"junk")
    z.writestr("folder/", b"")
put("FuzzServiceRequest", "batch.zip.bin", b"\x01" + zbuf.getvalue())
for i, body in enumerate([
        {"backbone": "mobilenet_v2", "coreset_ratio": 0.1, "seed": 3, "false_reject_rate": 0.01, "activate": True,
         "positives": False, "taps": ["features.6", "features.13"], "geometry": "short-side:448", "tile": "512x512",
         "tile_overlap": 128},
        {"size": "320x192"}, {"geometry": "native:1.5"}, {"geometry": "resize:256:crop:224"}, {}]):
    put("FuzzServiceRequest", f"fit_{i}.json", b"\x02" + json.dumps(body).encode())
for i, body in enumerate([
        {"generator": "classical", "count": 5, "seed": 1, "methods": ["perlin_texture"], "label": "scratch"},
        {"generator": "diffusion", "count": 2, "prompts": ["a scratch"], "negative_prompt": "blur", "steps": 20,
         "guidance_scale": 7.5, "strength": 0.9, "padding_mask_crop": 32, "good_item_id": 4, "mask_base64": "iVBORw0KGgo="}]):
    put("FuzzServiceRequest", f"synthesize_{i}.json", b"\x03" + json.dumps(body).encode())
for i, body in enumerate([
        {"name": "bottle", "description": "line 3"}, {"verdict": "defect", "reason": "crack", "mask_base64": "AAAA"},
        {"verdict": "accepted"}, {"threshold": 2.5}, {"false_reject_rate": 0.02}, {"common_with": 2},
        {"model_version_id": 7, "common_with_id": 3}, {"mask_base64": "iVBORw0KGgo="},
        {"url": "http://mes.local:8080/hook?x=1"}, {"name": "line-3", "role": "operator"}]):
    put("FuzzServiceRequest", f"body_{i}.json", b"\x04" + json.dumps(body).encode())
put("FuzzServiceRequest", "header.txt", b"\x05form-data; name=\"files\"; filename=\"a b/c.PNG\"; boundary=\"q\"")
PY
for t in "$out"/*/; do printf '%-22s %3d seeds\n' "$(basename "$t")" "$(ls "$t" | wc -l)"; done
