"""Training recipes of the cargo classifier, on cached frozen activations (`smartgate_tools.train.cargo_features`).

Every recipe starts from the ImageNet EfficientNet-Lite0 and ends as the same network (the runtime's input and
output contract and cost do not change between recipes): what differs is which part trains, on which views.

- `probe-baseline`: frozen backbone + logistic regression (L2, C = 1, no class weights, sklearn's defaults) on
  the image itself, real photos only — the naive baseline of issue #19.
- `probe`: frozen backbone + logistic regression on 8 strongly augmented views per image plus the synthetic
  gate views, class-balanced, with outlier exposure: synthetic frames without cargo (empty road, a cab, the edge
  of a body; `smartgate_tools.train.cargo_outliers`) are trained towards the uniform distribution, so that such frames of a
  real passage stay below the thresholds.
- `partial`: the last block (15), the head conv and the classifier fine-tuned on strongly augmented views (one
  random view per image per epoch), class-balanced, head initialised by a probe, outlier exposure.
- `probe-imagenet`: frozen backbone + logistic regression on the ImageNet head's log-probabilities (1000 named
  classes: "pomegranate", "carton", "freight car", ...) instead of the 1280 pooled features; same views and data
  as `probe`. The exported network keeps the ImageNet head and adds the 1000 -> 7 layer (+1.3 MFLOP).
- `shipped`: the recipe of the model shipped before issue #19: blocks 14-15 + head conv + classifier fine-tuned
  on 3 lightly augmented views (every view every epoch), 6 epochs, lr 1e-3, class weights 1/sqrt(frequency),
  no outlier exposure.
  (Issue #19 calls it the "full fine-tune"; it never trained blocks 0-13.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from edge.readers.cargo import CARGO_CLASSES
from smartgate_tools.train.cargo_features import START


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    kind: str  # "probe" | "finetune"
    policy: str = "strong"  # view policy of the augmented views (cargo_features)
    views: int = 8  # cached views per training image: 0 = itself, 1 = mirror, the rest augmented
    probe_views: str = "all"  # probe: train on "first" (view 0 only) or "all" views
    start: int = 15  # finetune: the first trained block (blocks[start:] + head conv + bn1 affine + fc)
    epochs: int = 12
    lr: float = 5e-4
    batch: int = 32
    epoch_views: str = "sample"  # "all": every view every epoch; "sample": one random view per image per epoch
    class_weight: str = "balanced"  # "balanced" (1/frequency), "sqrt" (1/sqrt(frequency)), "none"
    label_smoothing: float = 0.1
    probe_c: float = 1.0  # logistic regression: inverse L2 strength per sample, as sklearn's C
    standardize: bool = True  # probe: standardise features (folded into the exported head)
    probe_steps: int = 300  # finetune: AdamW steps of the head's initial probe
    synthetic: bool = True  # train on the synthetic gate views too
    dropout: float = 0.2
    features: str = "pooled"  # probe: "pooled" (1280-d) or "imagenet_logp" (log-softmax of the ImageNet head)
    outlier_weight: float = 0.0  # outlier exposure: weight of the uniform-target loss on frames without cargo

    def describe(self) -> dict:
        return asdict(self)


RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("probe-baseline", "(a) frozen Lite0 + logistic regression, image itself, real photos only (issue #19 "
           "baseline)", "probe", policy="strong", views=1, probe_views="first", class_weight="none", probe_c=1.0,
           standardize=False, synthetic=False),
    Recipe("probe", "(a') frozen Lite0 + logistic regression on 8 strong views + synthetic gate views, balanced, "
           "outlier exposure", "probe", policy="strong", views=8, probe_views="all", class_weight="balanced",
           probe_c=0.1, outlier_weight=0.5),
    Recipe("probe-imagenet", "(a'') frozen Lite0 + logistic regression on the ImageNet head's log-probabilities, "
           "8 strong views + synthetic gate views, balanced, outlier exposure", "probe", policy="strong", views=8,
           probe_views="all", class_weight="balanced", probe_c=1.0, features="imagenet_logp", outlier_weight=0.5),
    Recipe("partial", "(b) partial fine-tune: block 15 + head, strong augmentation (8 views), balanced, outlier "
           "exposure", "finetune", policy="strong", views=8, start=15, epochs=12, lr=5e-4, epoch_views="sample",
           class_weight="balanced", outlier_weight=0.5),
    Recipe("shipped", "(c) the model shipped before: blocks 14-15 + head, 3 light views, 6 epochs",
           "finetune", policy="light", views=3, start=14, epochs=6, lr=1e-3, epoch_views="all",
           class_weight="sqrt"),
]}


def with_overrides(r: Recipe, args) -> Recipe:
    """Command-line knobs (--epochs, --lr, --views, --finetune-blocks, --probe-steps, --batch) when given."""
    over = {}
    for field, arg in (("epochs", "epochs"), ("lr", "lr"), ("views", "views"), ("probe_steps", "probe_steps"),
                       ("batch", "batch")):
        v = getattr(args, arg, None)
        if v is not None:
            over[field] = v
    if getattr(args, "finetune_blocks", None) is not None:
        over["start"] = 16 - args.finetune_blocks
    if "views" in over and r.probe_views == "first":
        over["views"] = 1
    return replace(r, **over)


def class_weights(labels: np.ndarray, mode: str, n: int = len(CARGO_CLASSES)) -> np.ndarray:
    """Per-class loss weights with mean 1 over the classes present."""
    counts = np.bincount(labels, minlength=n).astype(np.float64)
    if mode == "none":
        w = (counts > 0).astype(np.float64)
    else:
        w = np.where(counts > 0, 1.0 / (np.maximum(counts, 1) ** (0.5 if mode == "sqrt" else 1.0)), 0.0)
    return w / w[counts > 0].mean()


# ---------------------------------------------------------------- the network around the cached part


def new_model():
    """ImageNet Lite0 with a 7-class head, in eval mode (BatchNorm statistics stay frozen), nothing trainable."""
    from torch import nn

    from smartgate_tools.train.lite0 import EfficientNetLite0, load_imagenet

    model = EfficientNetLite0(num_classes=1000)
    load_imagenet(model)
    model.imagenet_fc = model._fc  # kept for the `imagenet_logp` features; not part of forward()
    model._fc = nn.Linear(1280, len(CARGO_CLASSES))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def pooled(model, acts: np.ndarray, start: int = START, batch: int = 256):
    """Pooled 1280-d features of cached activations (any leading shape ... x C x H x W), through blocks[start:]."""
    import torch

    lead = acts.shape[:-3]
    flat = acts.reshape(-1, *acts.shape[-3:])
    out = []
    with torch.no_grad():
        for i in range(0, len(flat), batch):
            out.append(model.tail_features(torch.from_numpy(flat[i:i + batch].astype(np.float32)), start))
    return torch.cat(out).reshape(*lead, -1)


def fit_linear(feats, y, weights, c: float, standardize: bool, max_iter: int = 500, outliers=None,
               outlier_weight: float = 0.0):
    """Multinomial logistic regression, L2 on the weights (sklearn's objective: C * sum(w_i * loss_i) +
    ||W||^2 / 2), full-batch L-BFGS. `outliers` (features of frames with no cargo) add `outlier_weight` times
    their mean cross-entropy against the uniform distribution (outlier exposure). Returns (W, b) acting on the raw
    features (standardisation folded in)."""
    import torch
    import torch.nn.functional as F

    n, d = feats.shape
    mu = feats.mean(0) if standardize else torch.zeros(d)
    sd = feats.std(0) + 1e-3 if standardize else torch.ones(d)
    z = (feats - mu) / sd
    zo = (outliers - mu) / sd if outliers is not None and outlier_weight > 0 else None
    k = len(CARGO_CLASSES)
    w = torch.zeros(k, d, requires_grad=True)
    b = torch.zeros(k, requires_grad=True)
    sw = torch.as_tensor(weights, dtype=torch.float32)[y]
    lam = 1.0 / (c * n)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-7, tolerance_change=1e-10,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (F.cross_entropy(z @ w.T + b, y, reduction="none") * sw).mean() + lam / 2 * (w * w).sum()
        if zo is not None:
            loss = loss - outlier_weight * torch.log_softmax(zo @ w.T + b, dim=1).mean()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        wf = w / sd
        return wf.detach().clone(), (b - wf @ mu).detach().clone()


def head_input(model, feats, features: str):
    """What the trained linear layer sees: the pooled features, or the ImageNet head's log-probabilities."""
    import torch

    if features == "imagenet_logp":
        return torch.log_softmax(model.imagenet_fc(feats), dim=-1)
    return feats


class Trained:
    """A trained recipe: predicts on cached activations and becomes a full network for export."""

    def __init__(self, recipe: Recipe, model, history: list[dict]) -> None:
        self.recipe, self.model, self.history = recipe, model, history

    def probs(self, acts: np.ndarray, pooled_feats=None) -> np.ndarray:
        """Softmax over the classes for activations N x C x H x W (one view per image)."""
        import torch

        if self.recipe.kind == "probe" and pooled_feats is not None:
            feats = torch.as_tensor(pooled_feats)
        else:
            feats = pooled(self.model, acts, START)
        with torch.no_grad():
            return torch.softmax(self.model._fc(head_input(self.model, feats, self.recipe.features)), dim=1).numpy()

    def network(self):
        """image -> logits over the classes (the module to export)."""
        import torch

        if self.recipe.features != "imagenet_logp":
            return self.model

        class WithImagenetHead(torch.nn.Module):
            def __init__(self, m) -> None:
                super().__init__()
                self.m = m

            def forward(self, x):
                f = self.m.tail_features(self.m.stem(x, len(self.m._blocks)), len(self.m._blocks))
                return self.m._fc(torch.log_softmax(self.m.imagenet_fc(f), dim=-1))

        return WithImagenetHead(self.model)


def train(recipe: Recipe, acts: np.ndarray, y: np.ndarray, seed: int = 0, pooled_feats=None,
          progress: bool = False, outlier_acts: np.ndarray | None = None, outlier_feats=None) -> Trained:
    """Train `recipe` on activations N x V x C x H x W (views as cached) with labels y (class indices).
    `pooled_feats` N x V x 1280: the frozen pooled features, if already computed (probe recipes).
    `outlier_acts` / `outlier_feats` (M x V' x ...): frames without cargo, for recipes with outlier exposure."""
    import torch

    torch.manual_seed(seed)
    model = new_model()
    y_t = torch.as_tensor(y, dtype=torch.long)
    cw = class_weights(y, recipe.class_weight)
    v_used = 1 if recipe.probe_views == "first" and recipe.kind == "probe" else min(recipe.views, acts.shape[1])
    if pooled_feats is None:
        pooled_feats = pooled(model, acts[:, :v_used], START)
    feats = torch.as_tensor(pooled_feats)[:, :v_used]
    use_outliers = recipe.outlier_weight > 0 and outlier_acts is not None and len(outlier_acts)
    if use_outliers and outlier_feats is None:
        outlier_feats = pooled(model, outlier_acts, START)
    if recipe.kind == "probe":
        with torch.no_grad():
            x = head_input(model, feats.reshape(-1, feats.shape[-1]), recipe.features)
            xo = head_input(model, torch.as_tensor(outlier_feats).reshape(-1, feats.shape[-1]), recipe.features) \
                if use_outliers else None
        w, b = fit_linear(x, y_t.repeat_interleave(v_used), cw, recipe.probe_c, recipe.standardize, outliers=xo,
                          outlier_weight=recipe.outlier_weight if use_outliers else 0.0)
        if w.shape[1] != model._fc.in_features:
            model._fc = torch.nn.Linear(w.shape[1], len(CARGO_CLASSES)).requires_grad_(False)
        with torch.no_grad():
            model._fc.weight.copy_(w)
            model._fc.bias.copy_(b)
        return Trained(recipe, model, [])
    return _finetune(recipe, model, acts[:, :v_used], y, cw, feats, seed, progress,
                     (outlier_acts, torch.as_tensor(outlier_feats)) if use_outliers else None)


def _finetune(recipe: Recipe, model, acts: np.ndarray, y: np.ndarray, cw: np.ndarray, feats, seed: int,
              progress: bool, outliers=None) -> Trained:
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    n, v = acts.shape[:2]
    y_t = torch.as_tensor(y, dtype=torch.long)
    weights = torch.as_tensor(cw, dtype=torch.float32)
    fc = model._fc
    # 1. the head: a probe on pooled frozen features (the shipped recipe's initialisation)
    fc.weight.requires_grad_(True)
    fc.bias.requires_grad_(True)
    flat, yy = feats.reshape(-1, feats.shape[-1]), y_t.repeat_interleave(v)
    o_acts, o_feats = outliers if outliers is not None else (None, None)
    o_flat = o_feats.reshape(-1, o_feats.shape[-1]) if o_feats is not None else None
    opt = torch.optim.AdamW(fc.parameters(), lr=3e-3, weight_decay=1e-3)
    for _ in range(recipe.probe_steps):
        opt.zero_grad()
        loss = F.cross_entropy(fc(flat), yy, weight=weights, label_smoothing=recipe.label_smoothing)
        if o_flat is not None:
            loss = loss - recipe.outlier_weight * torch.log_softmax(fc(o_flat), dim=1).mean()
        loss.backward()
        opt.step()
    # 2. blocks[start:] + head conv + bn1 affine + fc on the cached activations (BatchNorm statistics frozen)
    frozen_mid = list(model._blocks[START:recipe.start])
    tail = [*model._blocks[recipe.start:], model._conv_head, model._bn1]
    tail_params = [p for m in tail for p in m.parameters()]
    for p in tail_params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": tail_params, "lr": recipe.lr},
                             {"params": fc.parameters(), "lr": recipe.lr * 3}], weight_decay=1e-4)
    per_epoch = n * v if recipe.epoch_views == "all" else n
    steps = recipe.epochs * ((per_epoch + recipe.batch - 1) // recipe.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[recipe.lr, recipe.lr * 3], total_steps=max(1, steps),
                                                pct_start=0.15)
    history = []
    for ep in range(recipe.epochs):
        if recipe.epoch_views == "all":
            pairs = np.array([(i, j) for i in range(n) for j in range(v)])
        else:
            pairs = np.stack([np.arange(n), rng.integers(0, v, n)], axis=1)
        pairs = pairs[rng.permutation(len(pairs))]
        tot, n_ok = 0.0, 0
        bar = tqdm(range(0, len(pairs), recipe.batch), desc=f"{recipe.name} epoch {ep + 1}/{recipe.epochs}",
                   disable=not progress)
        for s in bar:
            idx = pairs[s:s + recipe.batch]
            x = torch.from_numpy(acts[idx[:, 0], idx[:, 1]].astype(np.float32))
            with torch.no_grad():
                for blk in frozen_mid:
                    x = blk(x)
            yb = y_t[idx[:, 0]]
            logits = fc(F.dropout(model.tail_features(x, recipe.start), recipe.dropout, training=True))
            loss = F.cross_entropy(logits, yb, weight=weights, label_smoothing=recipe.label_smoothing)
            if o_acts is not None:  # as many outlier frames as a quarter batch, each step
                oi = rng.integers(0, len(o_acts), max(1, len(idx) // 4))
                xo = torch.from_numpy(o_acts[oi, rng.integers(0, o_acts.shape[1], len(oi))].astype(np.float32))
                with torch.no_grad():
                    for blk in frozen_mid:
                        xo = blk(xo)
                lo = fc(model.tail_features(xo, recipe.start))
                loss = loss - recipe.outlier_weight * torch.log_softmax(lo, dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(idx)
            n_ok += int((logits.argmax(1) == yb).sum())
        history.append({"epoch": ep + 1, "loss": round(tot / len(pairs), 4), "train_acc": round(n_ok / len(pairs), 4)})
    for p in model.parameters():
        p.requires_grad_(False)
    return Trained(recipe, model, history)
