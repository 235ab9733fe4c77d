"""Train the small CTC plate-text recogniser (`models/plate_rec/`) on real crops + synthetic plates.

Recipe (fast-plate-ocr / LPRNet style): grey 32x128 input -> 5 conv blocks (height collapsed to 1) ->
BiLSTM -> CTC over 32 frames. Two-line plates are split into lines laid side by side (`edge.readers.plate_rec`).
Data: ../shared/train/plate_{cn,vn,other} (real) + synthetic renders (`plate_rec_synth`), pre-rendered into
memory once, with cheap batch augmentation (affine, contrast, blur, noise, inversion) on top.
Validation by held-out source / plate text (`plate_rec_data.split`); per-country thresholds are calibrated
there on the exported ONNX file through the runtime reader, so the shipped numbers are the run-time ones.

    python -m smartgate_tools.train.plate_rec --data ../shared/train --out /tmp/plate_rec [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from edge.readers.plate_rec import ALPHABET, INPUT_H, INPUT_W, LAYOUTS, country_of, layouts_for, prepare
from smartgate_tools.train.plate_rec_data import Crop, camera_view, load_dir, split

MAX_WRONG = 0.005  # calibrated wrong-read ceiling per country on the validation split
VIEW_SEED_OFFSET = 1000  # the validation's worse-camera views are seeded this far from the training views
RULES = ("prod", "min", "min_frame")
DATA_DIRS = ("plate_cn", "plate_vn", "plate_other")


def build_model(n_classes: int = len(ALPHABET) + 1):
    """~0.27M parameters, ~23M multiply-adds (the build machine has 2 shared cores); (n, 1, 32, 128) -> (n, 32, n_classes) log-softmax-ready logits."""
    import torch
    from torch import nn

    def block(cin: int, cout: int, pool: tuple[int, int] | None) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                   nn.ReLU(inplace=True)]
        if pool:
            layers.append(nn.MaxPool2d(pool, pool))
        return layers

    class CRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *block(1, 16, (2, 2)),  # 16x64
                *block(16, 32, (2, 2)),  # 8x32
                *block(32, 64, (2, 1)),  # 4x32
                *block(64, 96, (2, 1)),  # 2x32
                nn.Conv2d(96, 128, (2, 3), padding=(0, 1), bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
                nn.Dropout(0.1),
            )
            self.rnn = nn.LSTM(128, 64, batch_first=True, bidirectional=True)
            self.head = nn.Linear(128, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x).squeeze(2).permute(0, 2, 1)  # (n, T, 128)
            y, _ = self.rnn(f)
            return self.head(y)

    return CRNN()


class Softmaxed:
    """Wraps the model for export: the ONNX output is softmax probabilities (n, T, C)."""

    @staticmethod
    def wrap(model):
        import torch
        from torch import nn

        class _M(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.m = model

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.softmax(self.m(x), dim=-1)

        return _M()


def augment(x, gen):
    """Batch augmentation on (n, 1, H, W) float in [-1, 1]: affine jitter, contrast/brightness, blur, noise,
    polarity inversion, small cut-outs. Cheap enough for 2 CPU cores."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=gen) * (hi - lo) + lo

    ang = u(-0.05, 0.05)
    sx, sy = u(0.9, 1.08), u(0.88, 1.1)
    sh = u(-0.1, 0.1)
    tx, ty = u(-0.04, 0.04), u(-0.08, 0.08)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cos / sx, (-sin + sh) / sx, tx], 1),
                         torch.stack([sin / sy, cos / sy, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    c = u(0.6, 1.15).view(n, 1, 1, 1)
    b = u(-0.2, 0.2).view(n, 1, 1, 1)
    x = x * c + b
    inv = (torch.rand(n, generator=gen) < 0.1).view(n, 1, 1, 1)
    x = torch.where(inv, -x, x)
    blur = torch.rand(n, generator=gen) < 0.15
    if blur.any():
        k = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=x.dtype).view(1, 1, 3, 3) / 16
        x[blur] = F.conv2d(F.pad(x[blur], (1, 1, 1, 1), mode="replicate"), k)
    x = x + torch.randn(x.shape, generator=gen) * u(0.0, 0.08).view(n, 1, 1, 1)
    cut = torch.rand(n, generator=gen) < 0.08
    for i in torch.nonzero(cut).flatten().tolist():
        w = int(torch.randint(4, 12, (1,), generator=gen))
        x0 = int(torch.randint(0, INPUT_W - w, (1,), generator=gen))
        x[i, :, : INPUT_H // 3, x0:x0 + w] = x[i].mean()
    return x.clamp(-1.5, 1.5)


def encode(label: str) -> list[int]:
    return [ALPHABET.index(c) + 1 for c in label]


def render_synthetic(n: int, seed: int, progress: bool = True) -> tuple[list[np.ndarray], list[str], list[str]]:
    """n prepared synthetic samples (uint8 32x128), labels, countries. ~7 % are the wrong layout of a plate with
    an empty label, so a crop read in the layout it does not have gives no confident text."""
    from smartgate_tools.train.plate_rec_synth import synth_sample

    rng = np.random.default_rng([seed, 17])
    imgs, labels, countries = [], [], []
    t0 = time.time()
    for i in range(n):
        img, label, country, lines = synth_sample(rng)
        lay = "two" if lines == 2 else "one"
        if label and rng.random() < 0.07:
            lay, label, country = ("one" if lay == "two" else "two"), "", "NEG"
        if country == "NEG":
            lay = str(rng.choice(LAYOUTS))
        imgs.append(prepare(img, lay))
        labels.append(label)
        countries.append(country)
        if progress and (i + 1) % 2000 == 0:
            print(f"  synthetic {i + 1}/{n} ({time.time() - t0:.0f} s)", flush=True)
    return imgs, labels, countries


def prepared_real(crops: list[Crop]) -> tuple[list[np.ndarray], list[str]]:
    return [prepare(c.image, "two" if c.lines == 2 else "one") for c in crops], [c.label for c in crops]


def camera_crops(crops: list[Crop], views: int, seed: int) -> list[Crop]:
    """`views` worse-camera copies of each crop (`plate_rec_data.camera_view`), rendered once, seeded."""
    rng = np.random.default_rng([seed, 29])
    return [Crop(camera_view(c.image, rng), c.label, c.country, c.lines, c.source, c.file)
            for _ in range(views) for c in crops]


def train(model, real_imgs: list[np.ndarray], real_labels: list[str], real_weight: list[int],
          syn_imgs: list[np.ndarray], syn_labels: list[str], epochs: int, seed: int, syn_per_epoch: int,
          max_minutes: float, batch: int = 64, lr: float = 2e-3, log=print) -> dict:
    """CTC training, AdamW. The learning rate follows warm-up + cosine over *wall time* (`max_minutes`) or over
    `epochs`, whichever ends first: the build machine is shared, so a step-count schedule planned at the start
    could overrun; this one always ends at a low rate when the time is up."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    real_idx = np.concatenate([np.full(w, i) for i, w in enumerate(real_weight)]) if real_imgs else np.zeros(0, int)
    X_real = torch.from_numpy(np.stack(real_imgs)) if real_imgs else None
    X_syn = torch.from_numpy(np.stack(syn_imgs))
    n_syn = min(syn_per_epoch, len(syn_imgs))
    steps_per_epoch = max(1, (len(real_idx) + n_syn) // batch)
    total_steps = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    budget = max_minutes * 60.0

    def batches():
        order = [("r", int(i)) for i in real_idx] + [("s", int(i)) for i in rng.choice(len(syn_imgs), n_syn, replace=False)]
        perm = rng.permutation(len(order))
        for s in range(steps_per_epoch):
            yield [order[j] for j in perm[s * batch:(s + 1) * batch]]

    def step(items, progress: float) -> float:
        for g in opt.param_groups:
            g["lr"] = lr * (progress / 0.08 if progress < 0.08 else 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
        xs = [X_real[i] if k == "r" else X_syn[i] for k, i in items]
        labels = [real_labels[i] if k == "r" else syn_labels[i] for k, i in items]
        x = augment(torch.stack(xs).float().unsqueeze(1) / 127.5 - 1.0, gen)
        logp = F.log_softmax(model(x), dim=-1).permute(1, 0, 2)  # (T, n, C)
        targets = torch.tensor([t for lab in labels for t in encode(lab)], dtype=torch.long)
        tl = torch.tensor([len(lab) for lab in labels], dtype=torch.long)
        il = torch.full((len(labels),), logp.shape[0], dtype=torch.long)
        loss = F.ctc_loss(logp, targets, il, tl, blank=0, zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return float(loss.detach())

    history: list[float] = []
    t_start = time.time()
    done = 0
    model.train()
    for ep in range(epochs):
        losses = []
        for items in batches():
            progress = max(done / total_steps, (time.time() - t_start) / budget)
            if progress >= 1.0:
                break
            losses.append(step(items, progress))
            done += 1
        if losses:
            history.append(float(np.mean(losses)))
            log(f"  epoch {ep + 1}/{epochs} loss {history[-1]:.4f} ({time.time() - t_start:.0f} s)")
        if (time.time() - t_start) >= budget:
            break
    elapsed = time.time() - t_start
    return {"epochs": len(history), "steps": done, "steps_per_epoch": steps_per_epoch, "batch": batch, "lr": lr,
            "loss": history, "sec_per_step": round(elapsed / max(1, done), 4), "train_seconds": round(elapsed)}


def export_onnx(model, path: Path) -> None:
    import torch

    model.eval()
    wrapped = Softmaxed.wrap(model).eval()
    x = torch.zeros(1, 1, INPUT_H, INPUT_W)
    torch.onnx.export(wrapped, (x,), str(path), input_names=["image"], output_names=["probs"],
                      dynamic_axes={"image": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)


def write_manifest(out: Path, extra: dict) -> dict:
    from models import sha256_file

    onnx = out / "plate_rec.onnx"
    m = {"file": onnx.name, "sha256": sha256_file(onnx), "size": onnx.stat().st_size,
         "input_size": [INPUT_H, INPUT_W], "input": "grey, (x/127.5 - 1), n x 1 x 32 x 128; two-line plates split "
         "at the ink-profile minimum and laid side by side (edge.readers.plate_rec.prepare)",
         "output": "softmax (n, 32, 1 + len(alphabet)); index 0 = CTC blank", "alphabet": ALPHABET,
         "layouts": list(LAYOUTS)}
    m.update(extra)
    (out / "manifest.json").write_text(json.dumps(m, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return m


def read_all(directory: Path, crops: list[Crop], thresholds: dict[str, float] | None = None) -> list[dict]:
    """Every crop through the run-time reader (ONNX, both layouts): text, confidence under each rule."""
    from edge.readers.plate_rec import PlateRecogniser, ctc_greedy, sequence_confidence

    rec = PlateRecogniser(directory, threads=2, verify=False, thresholds=thresholds or {"CN": 1.01})
    rows = []
    for c in crops:
        lays = layouts_for(c.image)
        probs = rec.probs([prepare(c.image, lay) for lay in lays])
        decs = [ctc_greedy(p) for p in probs]
        row = {"label": c.label, "country": c.country, "lines": c.lines, "source": c.source, "file": c.file}
        for rule in RULES:
            confs = [sequence_confidence(d, rule) for d in decs]
            k = int(np.argmax(confs))
            row[rule] = (decs[k].text, confs[k], lays[k])
        rows.append(row)
    return rows


def _threshold(pairs: list[tuple[float, bool]], n_total: int) -> float:
    """Smallest threshold (a seen confidence) keeping wrong reads <= MAX_WRONG of n_total."""
    allowed = math.floor(MAX_WRONG * n_total + 1e-9)
    best = 1.01
    wrong = 0
    for conf, ok in sorted(pairs, key=lambda p: (-p[0], p[1])):  # at a tie the wrong read first: never accepted
        if not ok:
            wrong += 1
            if wrong > allowed:
                break
        best = conf
    return float(best)


def thresholds_for(rows: list[dict], rule: str) -> dict[str, float]:
    """Per read-country thresholds of one rule keeping wrong reads <= MAX_WRONG of that country's crops."""
    thr = {}
    for k in ("CN", "VN", "OTHER"):
        pairs = [(r[rule][1], r[rule][0] == r["label"]) for r in rows if r[rule][0] and country_of(r[rule][0]) == k]
        n_k = sum(1 for r in rows if r["country"] == k) or len(pairs)
        thr[k] = _threshold(pairs, max(n_k, 1)) if pairs else 1.01
    return thr


def stricter_thresholds(rule: str, *conditions: list[dict]) -> dict[str, float]:
    """Each condition's reads (the same crops sharp, as worse-camera views …) calibrated alone, the stricter
    threshold kept per country: the ceiling holds in every condition, not only on their union."""
    per_condition = [thresholds_for(rows, rule) for rows in conditions]
    return {k: max(t[k] for t in per_condition) for k in per_condition[0]}


def calibrate(rows: list[dict], *more: list[dict]) -> tuple[str, dict[str, float], dict]:
    """Per read-country thresholds for each rule (`stricter_thresholds` over `rows` and the `more` conditions);
    the rule with the most accepted-correct reads wins."""
    results = {}
    for rule in RULES:
        thr = stricter_thresholds(rule, rows, *more)
        results[rule] = (thr, figures([r for rs in (rows, *more) for r in rs], rule, thr))
    rule = max(RULES, key=lambda r: results[r][1]["all"]["correct"])
    return rule, results[rule][0], {r: results[r][1] for r in RULES}


def figures(rows: list[dict], rule: str, thr: dict[str, float]) -> dict:
    """accuracy (accepted and right), wrong (accepted and not right), abstain, per label country and layout."""
    out: dict[str, dict] = {}
    groups: dict[str, list[dict]] = {"all": rows}
    for r in rows:
        groups.setdefault(r["country"], []).append(r)
        groups.setdefault(f"{r['country']}:{'two' if r['lines'] == 2 else 'one'}", []).append(r)
    for g, rs in groups.items():
        acc = wrong = raw = 0
        for r in rs:
            text, conf, _ = r[rule]
            raw += text == r["label"]
            if text and conf >= thr.get(country_of(text), 1.01):
                acc += text == r["label"]
                wrong += text != r["label"]
        n = len(rs)
        out[g] = {"n": n, "correct": acc, "wrong": wrong, "accuracy": round(acc / n, 4), "wrong_rate": round(wrong / n, 4),
                  "abstain_rate": round((n - acc - wrong) / n, 4), "raw_accuracy": round(raw / n, 4)}
    return out


def speed_ms(directory: Path, crops: list[Crop], n: int = 200) -> float:
    """Median ms per crop (both layouts) on 1 thread, through the run-time reader."""
    from edge.readers.plate_rec import PlateRecogniser

    rec = PlateRecogniser(directory, threads=1, verify=False, thresholds={"CN": 1.01})
    ts = []
    for c in (crops * (n // max(1, len(crops)) + 1))[:n]:
        t0 = time.perf_counter()
        rec.read(c.image)
        ts.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(ts)), 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="smartgate train plate", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/train", help="folder holding plate_cn, plate_vn, plate_other")
    p.add_argument("--out", required=True, help="output folder: plate_rec.onnx, manifest.json, report.json")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--max-minutes", type=float, default=28.0, help="training wall-time cap (epochs shrink)")
    p.add_argument("--synthetic", type=int, default=16000, help="synthetic samples rendered once")
    p.add_argument("--synthetic-per-epoch", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--init", help="start from these weights (plate_rec.pt of an earlier run): fine-tuning")
    p.add_argument("--camera-views", type=int, default=0,
                   help="worse-camera copies of each real training crop (small, blurred, JPEG), rendered once")
    p.add_argument("--smoke", action="store_true", help="1 epoch on a tiny subset (tests)")
    a = p.parse_args(argv)

    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    crops: list[Crop] = []
    for name in DATA_DIRS:
        d = Path(a.data) / name
        if (d / "labels.csv").is_file():
            crops += load_dir(d)
    train_crops, val_crops = split(crops, a.seed)
    if a.smoke:
        a.epochs, a.synthetic, a.synthetic_per_epoch = 1, 256, 256
        train_crops, val_crops = train_crops[::40], val_crops[::40]
    print(f"real crops: {len(train_crops)} train, {len(val_crops)} validation ({time.time() - t0:.0f} s)", flush=True)
    train_crops += camera_crops(train_crops, a.camera_views, a.seed)
    real_imgs, real_labels = prepared_real(train_crops)
    # one-source sets are small: seen more often per epoch (VN x3, OTHER x3)
    weight = [3 if c.country in ("VN", "OTHER") else 1 for c in train_crops]
    syn_imgs, syn_labels, _ = render_synthetic(a.synthetic, a.seed, progress=not a.smoke)
    print(f"synthetic: {len(syn_imgs)} ({time.time() - t0:.0f} s)", flush=True)
    model = build_model()
    if a.init:
        model.load_state_dict(torch.load(a.init, map_location="cpu"))
    n_params = sum(p.numel() for p in model.parameters())
    hist = train(model, real_imgs, real_labels, weight, syn_imgs, syn_labels, a.epochs, a.seed,
                 a.synthetic_per_epoch, a.max_minutes if not a.smoke else 5.0, lr=a.lr)
    torch.save(model.state_dict(), out / "plate_rec.pt")
    export_onnx(model, out / "plate_rec.onnx")
    write_manifest(out, {"confidence_rule": "min", "thresholds": {"CN": 1.01, "VN": 1.01, "OTHER": 1.01}})
    # thresholds calibrated on the validation crops as they are and as a worse camera shows them (one view each,
    # seeded apart from the training views): a threshold that holds only on sharp crops would not hold at a gate
    rows = read_all(out, val_crops) if val_crops else []
    cam_rows = read_all(out, camera_crops(val_crops, 1, a.seed + VIEW_SEED_OFFSET)) if val_crops else []
    rule, thr, by_rule = calibrate(rows, cam_rows) if rows else ("min", {"CN": 1.01, "VN": 1.01, "OTHER": 1.01}, {})
    clean_figures = figures(rows, rule, thr) if rows else {}
    cam_figures = figures(cam_rows, rule, thr) if cam_rows else {}
    ms = speed_ms(out, val_crops or train_crops, 20 if a.smoke else 300) if (val_crops or train_crops) else None
    recipe = {"params": n_params, "epochs": hist["epochs"], "batch": hist["batch"], "lr": hist["lr"],
              "synthetic": a.synthetic, "synthetic_per_epoch": a.synthetic_per_epoch, "seed": a.seed,
              "steps": hist["steps"], "train_real": len(train_crops), "val_real": len(val_crops),
              "train_seconds": hist["train_seconds"], "init": a.init, "camera_views": a.camera_views,
              "command": "python -m smartgate_tools.train.plate_rec " + " ".join(argv or sys.argv[1:])}
    manifest = write_manifest(out, {
        "confidence_rule": rule, "thresholds": thr, "max_wrong_rate_calibrated": MAX_WRONG,
        "validation": clean_figures, "validation_camera_view": cam_figures, "ms_per_crop_1_thread": ms,
        "recipe": recipe})
    report = {"manifest": manifest, "by_rule": by_rule, "history": hist,
              "validation_reads": [{**r, **{k: list(r[k]) for k in RULES}} for r in rows],
              "validation_camera_reads": [{**r, **{k: list(r[k]) for k in RULES}} for r in cam_rows]}
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for g, f in sorted(clean_figures.items()) + sorted((f"cam {k}", v) for k, v in cam_figures.items()):
        print(f"  {g:10s} n={f['n']:4d} acc {f['accuracy']:.3f} wrong {f['wrong_rate']:.3f} abstain "
              f"{f['abstain_rate']:.3f} (raw {f['raw_accuracy']:.3f})")
    print(f"rule {rule}, thresholds {thr}, {ms} ms/crop (1 thread), {n_params} params, "
          f"{manifest['size'] / 1e6:.2f} MB, total {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
