#!/usr/bin/env python3
"""Writes the CheckpointsTests fixtures: tiny PyTorch checkpoints in the zip (torch >= 1.6) and legacy
(`_use_new_zipfile_serialization=False`) formats, refused pickles, and safetensors files written by the
Python `safetensors` library, plus the expected values (as float32 safetensors written by the Python lib).

    python3 scripts/make_checkpoint_fixtures.py            # (re)write Tests/CheckpointsTests/Fixtures
    python3 scripts/make_checkpoint_fixtures.py --verify-swift
        # load the Swift encoder's committed output (swift_encoded_*.safetensors) with the Python library
        # and compare it with expected_swift_encoded.safetensors

Deterministic values (seeded). Legacy-format files embed storage addresses as keys, so their bytes (not their
contents) differ between runs.
"""
import io
import os
import pickle
import struct
import sys
import zipfile

import torch
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CheckpointsTests", "Fixtures")


def mixed_state():
    """fp32/fp16/bf16/int64 tensors, a transposed view, two views sharing one storage, a 0-d tensor."""
    g = torch.Generator().manual_seed(1234)
    base = torch.randn(6, 4, generator=g)
    d = {}
    d["conv.weight"] = torch.randn(2, 3, 3, 3, generator=g)
    d["conv.bias"] = torch.randn(2, generator=g)
    d["half.weight"] = torch.randn(5, 3, generator=g).half()
    d["bf16.weight"] = torch.randn(3, 4, generator=g).to(torch.bfloat16)
    d["double.weight"] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    d["bn.num_batches_tracked"] = torch.tensor(123456, dtype=torch.long)  # 0-d int64
    d["int64.values"] = torch.tensor([-3, 0, 7, 1 << 40], dtype=torch.long)
    d["int32.values"] = torch.tensor([-5, 9], dtype=torch.int32)
    d["uint8.values"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    d["bool.values"] = torch.tensor([True, False, True])
    d["transposed"] = torch.randn(3, 5, generator=g).t()  # strides (1, 5), not contiguous
    d["shared.full"] = base  # the two 'shared' tensors view one storage
    d["shared.rows"] = base[2:5]  # storage_offset 8
    d["shared.column"] = base[:, 1]  # offset 1, stride 4
    d["empty"] = torch.zeros(0, 3)
    d["param.weight"] = torch.nn.Parameter(torch.randn(2, 3, generator=g))  # pickled via _rebuild_parameter
    return d


def module_state():
    """A real nn.Module state dict: OrderedDict with the `_metadata` attribute (pickled with BUILD)."""
    torch.manual_seed(7)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    m[1].num_batches_tracked.fill_(42)
    return m.state_dict()


def as_float32(d):
    return {k: v.detach().to(torch.float32).contiguous().clone() for k, v in d.items()}


def save_zip_and_legacy(obj, stem):
    torch.save(obj, os.path.join(OUT, f"{stem}_zip.pth"))
    torch.save(obj, os.path.join(OUT, f"{stem}_legacy.pth"), _use_new_zipfile_serialization=False)


class Evil:
    """Would run a shell command when unpickled by an unrestricted unpickler."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/patchcore_pwned",))


def legacy_headers():
    """The three pickles that open a legacy torch file (magic number, protocol version, sys_info)."""
    buf = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, buf, protocol=2)
    return buf.getvalue()


def write_refused():
    # 1. torch.save of an object whose reduce calls os.system (zip): global posix.system
    torch.save({"w": torch.ones(2), "evil": Evil()}, os.path.join(OUT, "evil_system_zip.pth"))
    # 2. the same, legacy format
    torch.save({"w": torch.ones(2), "evil": Evil()}, os.path.join(OUT, "evil_system_legacy.pth"),
               _use_new_zipfile_serialization=False)
    # 3. a hand-made legacy file whose object pickle calls __builtin__.eval (protocol 2, GLOBAL opcode)
    evil = b"\x80\x02c__builtin__\neval\nX\x1a\x00\x00\x00__import__('os').getcwd()\x85R."
    with open(os.path.join(OUT, "evil_eval_legacy.pth"), "wb") as f:
        f.write(legacy_headers() + evil)
    # 4. a bare pickle (protocol 4, STACK_GLOBAL) that would call os.system
    with open(os.path.join(OUT, "evil_plain.pkl"), "wb") as f:
        f.write(pickle.dumps(Evil(), protocol=4))
    # 5. a pickled nn.Module (torch.save(model)): the module class is refused
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(2, 2), os.path.join(OUT, "full_module_zip.pth"))
    # 6. torch.storage._load_from_bytes (what pickling a storage with plain pickle produces)
    buf = io.BytesIO()
    pickle.dump(torch.ones(2).untyped_storage(), buf, protocol=2)
    with open(os.path.join(OUT, "load_from_bytes_legacy.pth"), "wb") as f:
        f.write(legacy_headers() + buf.getvalue())


def write_broken():
    src = open(os.path.join(OUT, "mixed_legacy.pth"), "rb").read()
    # storages shorter than declared: cut the last 40 bytes off
    with open(os.path.join(OUT, "truncated_legacy.pth"), "wb") as f:
        f.write(src[:-40])
    zsrc = open(os.path.join(OUT, "mixed_zip.pth"), "rb").read()
    with open(os.path.join(OUT, "truncated_zip.pth"), "wb") as f:
        f.write(zsrc[: len(zsrc) // 2])
    open(os.path.join(OUT, "empty.pth"), "wb").close()
    with open(os.path.join(OUT, "not_a_checkpoint.txt"), "wb") as f:
        f.write(b"hello, this is a text file and not a checkpoint\n")
    # a complex64 tensor: unsupported dtype
    torch.save({"c": torch.ones(2, dtype=torch.complex64)}, os.path.join(OUT, "complex_zip.pth"))
    # the zip checkpoint re-packed with deflate compression and another top-level folder name
    with zipfile.ZipFile(os.path.join(OUT, "mixed_zip.pth")) as zin, \
            zipfile.ZipFile(os.path.join(OUT, "mixed_deflated.pth"), "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name = "renamed_folder/" + info.filename.split("/", 1)[1]
            zi = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, zin.read(info.filename))


def write_safetensors():
    g = torch.Generator().manual_seed(99)
    t = {"a.weight": torch.randn(4, 3, generator=g), "b.bias": torch.randn(7, generator=g),
         "c.scalar": torch.tensor(2.5), "d.big": torch.randn(2, 3, 4, generator=g) * 1000}
    save_file(t, os.path.join(OUT, "py_f32.safetensors"), metadata={"format": "pt", "origin": "python"})
    h = {k: v.half() for k, v in t.items()}
    save_file(h, os.path.join(OUT, "py_f16.safetensors"))
    b = {k: v.to(torch.bfloat16) for k, v in t.items()}
    save_file(b, os.path.join(OUT, "py_bf16.safetensors"))
    save_file(as_float32(t), os.path.join(OUT, "expected_py_f32.safetensors"))
    save_file(as_float32(h), os.path.join(OUT, "expected_py_f16.safetensors"))
    save_file(as_float32(b), os.path.join(OUT, "expected_py_bf16.safetensors"))
    # Inputs for the Swift encoder test (values chosen to exercise fp16/bf16 rounding and specials).
    s = {"x": torch.tensor([0.0, -0.0, 1.0, -2.5, 1e-8, 65504.0, 70000.0, 1.0009765625, 3.14159265,
                            float("inf"), float("-inf"), 1e-5, 0.1, -123.456]),
         "y": torch.randn(2, 3, generator=g)}
    save_file(s, os.path.join(OUT, "swift_encoder_input.safetensors"))
    save_file({k: v.half().float() for k, v in s.items()}, os.path.join(OUT, "expected_swift_encoded_f16.safetensors"))
    save_file({k: v.to(torch.bfloat16).float() for k, v in s.items()},
              os.path.join(OUT, "expected_swift_encoded_bf16.safetensors"))


def verify_swift():
    """The Swift encoder's output (committed by the Swift test run) must load in the Python library."""
    src = load_file(os.path.join(OUT, "swift_encoder_input.safetensors"))
    for kind, dtype in [("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)]:
        path = os.path.join(OUT, f"swift_encoded_{kind}.safetensors")
        got = load_file(path)
        assert set(got) == set(src), (kind, sorted(got))
        for k in src:
            assert got[k].dtype == dtype, (kind, k, got[k].dtype)
            want = src[k].to(dtype)
            assert torch.equal(got[k], want), (kind, k, got[k], want)
        print(f"{path}: loads in python safetensors, {len(got)} tensors equal to torch's {dtype} rounding")


def main():
    if "--verify-swift" in sys.argv:
        verify_swift()
        return
    os.makedirs(OUT, exist_ok=True)
    mixed = mixed_state()
    save_zip_and_legacy(mixed, "mixed")
    # protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL instead of protocol 2's opcodes
    torch.save(mixed, os.path.join(OUT, "mixed_p4_zip.pth"), pickle_protocol=4)
    save_file(as_float32(mixed), os.path.join(OUT, "expected_mixed.safetensors"))

    mod = module_state()
    save_zip_and_legacy(mod, "module")
    save_file(as_float32(mod), os.path.join(OUT, "expected_module.safetensors"))

    # Nested containers and DataParallel prefixes.
    dp = {"module." + k: v for k, v in mod.items()}
    torch.save({"epoch": 3, "state_dict": dp, "best_acc": 0.5}, os.path.join(OUT, "nested_state_dict_zip.pth"))
    torch.save({"model": dp, "optimizer": {"lr": 0.1}}, os.path.join(OUT, "nested_model_legacy.pth"),
               _use_new_zipfile_serialization=False)
    torch.save({"model_state_dict": mod, "epoch": 1}, os.path.join(OUT, "nested_model_state_dict_zip.pth"))

    write_refused()
    write_broken()
    write_safetensors()
    # sanity: torch reads back what it wrote
    for stem in ["mixed_zip", "mixed_legacy", "module_zip", "module_legacy"]:
        back = torch.load(os.path.join(OUT, stem + ".pth"), weights_only=True)
        assert len(back) in (len(mixed), len(mod))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
