#!/usr/bin/env python3
"""Times PyTorch (CPU, 2 threads by default) on the conv layers of MobileNetV2 up to features.13 and ResNet-50 through layer3.

Writes bench/conv_shapes.json: every conv's input/weight shape, parameters, fused epilogue (BN folded into the
conv's bias, then residual add and activation as in the network) and torch's best-of-N time for exactly that
(F.conv2d with bias, + residual, activation). bench/ConvBench (Swift) reads the file and times TensorCore.conv2d
on the same list, printing both side by side. Also prints torch's whole eval forward for the same prefixes.

Run: python3 bench/conv_bench.py [--batch 1] [--repeats 15]; then
     swift run -c release ConvBench bench/conv_shapes.json
or, side by side in one run (this machine is shared and noisy, so rounds alternate torch and Swift and the
best round of each is kept):
     swift build -c release --product ConvBench
     python3 bench/conv_bench.py --swift .build/release/ConvBench --rounds 3
"""
import argparse
import json
import pathlib
import subprocess
import tempfile
import time

import torch
import torch.nn.functional as F

_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
import torchvision  # noqa: E402


CLOCK = time.perf_counter


def best_ms(fn, repeats):
    """Fastest of `repeats` runs: the least disturbed by other load on a shared machine."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = CLOCK()
        fn()
        ts.append((CLOCK() - t0) * 1000)
    return min(ts)


def collect(model, prefix_modules, x, classify):
    """Conv layers hit by a forward of `prefix_modules` on x, in order, with their input shapes."""
    layers = []
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            def hook(mod, inp, out, name=name):
                act, residual = classify(name)
                layers.append({"name": name, "x": list(inp[0].shape), "w": list(mod.weight.shape),
                               "stride": list(mod.stride), "padding": list(mod.padding),
                               "dilation": list(mod.dilation), "groups": mod.groups,
                               "activation": act, "residual": residual})
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        prefix_modules(x)
    for h in hooks:
        h.remove()
    return layers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent / "conv_shapes.json"))
    ap.add_argument("--swift", help="ConvBench binary to alternate with (prints both side by side)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="torch and ConvBench threads (default 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 224, 224)

    mnv2 = torchvision.models.mobilenet_v2().eval()
    mnv2_prefix = mnv2.features[:14]

    def mnv2_kind(name):
        # features.i.conv.K: the last plain Conv2d of an inverted residual is the linear projection.
        parts = name.split(".")
        if len(parts) == 4 and parts[2] == "conv":
            block = mnv2.features[int(parts[1])]
            return "none", bool(getattr(block, "use_res_connect", False))
        return "relu6", False

    r50 = torchvision.models.resnet50().eval()
    r50_prefix = torch.nn.Sequential(r50.conv1, r50.bn1, r50.relu, r50.maxpool, r50.layer1, r50.layer2, r50.layer3)

    def r50_kind(name):
        if "downsample" in name:
            return "none", False
        if name.endswith("conv3"):
            return "relu", True
        return "relu", False

    nets = {}
    for net, model, prefix, kind in [("mobilenet_v2_to_features13", mnv2, mnv2_prefix, mnv2_kind),
                                     ("resnet50_to_layer3", r50, r50_prefix, r50_kind)]:
        nets[net] = {"layers": collect(model, prefix, x, kind), "prefix": prefix,
                     "torch_layers_ms": float("inf"), "torch_forward_ms": float("inf")}
    swift = {}
    for rnd in range(args.rounds):
        for net, entry in nets.items():
            time_torch(entry, x, args.repeats)
        dump(nets, args)
        if args.swift:
            with tempfile.TemporaryDirectory() as tmp:
                results = pathlib.Path(tmp) / "swift.json"
                subprocess.run([args.swift, args.out, "--repeats", str(args.repeats), "--results", str(results),
                                "--threads", str(args.threads)], capture_output=True, text=True, check=True)
                got = json.loads(results.read_text())
            for net, times in got.items():
                best = swift.setdefault(net, times)
                swift[net] = [min(a, b) for a, b in zip(best, times)]
        print(f"round {rnd + 1}/{args.rounds} done", flush=True)
    for net, entry in nets.items():
        layers = entry["layers"]
        gflop = sum(L["gflop"] for L in layers)
        if net in swift:
            print(f"{'layer':28} {'x':20} {'w':18} {'torch ms':>9} {'swift ms':>9} {'torch GF/s':>10} {'swift GF/s':>10}")
            for L, ms in zip(layers, swift[net]):
                print(f"{L['name']:28} {str(L['x']):20} {str(L['w']):18} {L['torch_ms']:9.3f} {ms:9.3f} "
                      f"{L['gflop'] / L['torch_ms'] * 1000:10.1f} {L['gflop'] / ms * 1000:10.1f}")
        total = entry["torch_layers_ms"]
        line = (f"{net}: {len(layers)} convs, {gflop:.2f} GFLOP, batch {args.batch}; torch fused conv layers {total:.1f} ms "
                f"({gflop / total * 1000:.0f} GFLOP/s); torch eval forward of the prefix {entry['torch_forward_ms']:.1f} ms")
        if net in swift:
            st = sum(swift[net])
            line += f"; TensorCore conv2d {st:.1f} ms ({gflop / st * 1000:.0f} GFLOP/s)"
        print(line)
    print(f"wrote {args.out}")


def time_torch(entry, x, repeats):
    acts = {"none": lambda t: t, "relu": F.relu, "relu6": F.relu6}
    total = 0.0
    for L in entry["layers"]:
        xi = torch.randn(*L["x"])
        w = torch.randn(*L["w"]) * 0.05
        b = torch.randn(L["w"][0])
        y0 = F.conv2d(xi, w, b, L["stride"], L["padding"], L["dilation"], L["groups"])
        r = torch.randn_like(y0) if L["residual"] else None
        act = acts[L["activation"]]

        def run(xi=xi, w=w, b=b, L=L, r=r, act=act):
            with torch.no_grad():
                y = F.conv2d(xi, w, b, L["stride"], L["padding"], L["dilation"], L["groups"])
                if r is not None:
                    y = y + r
                return act(y)

        L["torch_ms"] = min(L.get("torch_ms", float("inf")), best_ms(run, repeats))
        L["gflop"] = 2 * y0.numel() * L["w"][1] * L["w"][2] * L["w"][3] / 1e9
    entry["torch_layers_ms"] = sum(L["torch_ms"] for L in entry["layers"])
    with torch.no_grad():
        entry["torch_forward_ms"] = min(entry["torch_forward_ms"],
                                        best_ms(lambda: entry["prefix"](x), max(3, repeats // 3)))


def dump(nets, args):
    out = {net: {k: v for k, v in e.items() if k != "prefix"} for net, e in nets.items()}
    pathlib.Path(args.out).write_text(json.dumps({"batch": args.batch, "threads": args.threads, "nets": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
