"""What the bundled example runs are: their hparams, status, notes, and how their metrics evolve."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

Row = dict[str, float | int]  # one metrics.csv row; absent keys are empty cells

FAKE_WANDB_KEY = hashlib.sha1(b"sitegen example, not a real key").hexdigest()
SWEEP_ID = 48213
OUTPUTS = "../../../outputs"  # from runs/<date>/<time>/<id>/ to runs/outputs/, inside the scanned root


@dataclass(frozen=True)
class Curve:
    """How the metrics of one run evolve; all steps are optimizer steps."""

    total_steps: int
    steps_per_epoch: int
    log_every: int
    val_every: int
    peak_lr: float
    init_loss: float
    final_loss: float
    final_acc: float
    step_time: float  # wall seconds per optimizer step
    noise: float = 0.03
    stop_at: int | None = None  # crash or stall: no rows from this step on
    diverge_at: int | None = None  # the loss blows up to inf, then nan
    ppl_from: int | None = None  # `val/ppl` is logged from this step on (widens the header)


@dataclass(frozen=True)
class RunSpec:
    name: str
    created: str  # "YYYY-mm-dd HH:MM:SS", UTC
    status: str
    family: str  # "vision" or "lm"
    hparams: dict[str, object]  # nested, as in hparams.yaml
    curve: Curve
    notes: str = ""
    tags: tuple[str, ...] = ()
    task: int | None = None  # array task of the sweep
    media: bool = False
    output_log: bool = False  # an eval.log in output_dir

    @property
    def run_id(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()[:12]


def hparams(
    model: dict[str, object],
    data: dict[str, object],
    lr: float,
    trainer: dict[str, object],
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """Nested hparams as the training script's config has them."""
    nested: dict[str, object] = {
        "model": model,
        "data": data,
        "optimizer": {"name": "adamw", "lr": lr, "weight_decay": 0.05, "betas": [0.9, 0.95]},
        "trainer": {"precision": "bf16-mixed", **trainer},
        "seed": 0,
        "wandb": {"project": "spt-examples", "entity": "alice", "mode": "offline", "api_key": FAKE_WANDB_KEY},
    }
    return {**nested, **(extra or {})}


def lm_hparams(
    lr: float, model: str, dataset: str, curve: Curve, extra: dict[str, object]
) -> dict[str, object]:
    layers, width = (8, 512) if model == "gpt-mini" else (12, 768)
    return hparams(
        {"name": model, "n_layer": layers, "n_head": width // 64, "d_model": width, "dropout": 0.0},
        {"name": dataset, "batch_size": 64, "num_workers": 8, "tokenizer": "gpt2"},
        lr,
        {"max_steps": curve.total_steps, "devices": 2, "val_check_interval": curve.val_every},
        {"max_tokens": 512, **extra},
    )


def lm_curve(peak_lr: float, final_loss: float, diverge_at: int | None = None) -> Curve:
    """The sweep's curves: 5,000 steps; a lower final loss means a higher accuracy."""
    return Curve(
        total_steps=5000,
        steps_per_epoch=100_000,
        log_every=10,
        val_every=250,
        peak_lr=peak_lr,
        init_loss=10.8,
        final_loss=final_loss,
        final_acc=0.62 - 0.08 * (final_loss - 1.3),
        step_time=0.71,
        diverge_at=diverge_at,
    )


def sweep_run(task: int, lr: float, created: str, curve: Curve, notes: str) -> RunSpec:
    extra = {
        "slurm": {"array_job_id": str(SWEEP_ID), "task_id": task},
        "output_dir": f"{OUTPUTS}/lr-sweep/{SWEEP_ID}_{task}",
    }
    return RunSpec(
        name=f"gpt-mini-lr-{lr:g}",
        created=created,
        status="completed",
        family="lm",
        hparams=lm_hparams(lr, "gpt-mini", "tinystories", curve, extra),
        curve=curve,
        notes=notes,
        tags=(f"sweep:{SWEEP_ID}", "lm", "lr-sweep"),
        task=task,
    )


BASELINE = Curve(
    total_steps=30 * 391,
    steps_per_epoch=391,
    log_every=20,
    val_every=391,
    peak_lr=1e-3,
    init_loss=2.31,
    final_loss=0.12,
    final_acc=0.94,
    step_time=0.061,
)
VIT_OOM = Curve(
    total_steps=100 * 495,
    steps_per_epoch=495,
    log_every=5,
    val_every=2 * 495,
    peak_lr=5e-4,
    init_loss=4.61,
    final_loss=0.9,
    final_acc=0.81,
    step_time=0.46,
    stop_at=2 * 495,
)
LONG_LM = Curve(
    total_steps=20_000,
    steps_per_epoch=100_000,
    log_every=10,
    val_every=500,
    peak_lr=3e-4,
    init_loss=10.8,
    final_loss=1.18,
    final_acc=0.66,
    step_time=1.32,
    noise=0.025,
    ppl_from=6000,
)
STALLED_LM = Curve(
    total_steps=20_000,
    steps_per_epoch=100_000,
    log_every=10,
    val_every=1000,
    peak_lr=3e-4,
    init_loss=10.9,
    final_loss=2.9,
    final_acc=0.41,
    step_time=0.74,
    stop_at=7433,
)

RUNS: tuple[RunSpec, ...] = (
    RunSpec(
        name="resnet18-cifar10-baseline",
        created="2025-03-03 09:15:12",
        status="completed",
        family="vision",
        hparams=hparams(
            {"name": "resnet18", "pretrained": False},
            {"name": "cifar10", "batch_size": 128, "num_workers": 8, "augment": ["random_crop", "hflip"]},
            1e-3,
            {"max_epochs": 30, "devices": 1},
        ),
        curve=BASELINE,
        notes="## Baseline\n\nResNet-18 on CIFAR-10, trained **from scratch** on one GPU.\n\n"
        "- cosine schedule after a short linear warm-up\n- reference for the ViT runs: `val/acc` ≈ 0.94\n",
        tags=("baseline", "vision"),
        media=True,
    ),
    sweep_run(
        0,
        1e-4,
        "2025-03-05 22:10:04",
        lm_curve(1e-4, 1.78),
        "Learning-rate sweep, task 0 of 3. Too low: still improving at the end.",
    ),
    sweep_run(
        1,
        3e-4,
        "2025-03-05 22:10:07",
        lm_curve(3e-4, 1.41),
        "Learning-rate sweep, task 1 of 3. **Best** of the sweep.",
    ),
    sweep_run(
        2,
        3e-3,
        "2025-03-05 22:10:09",
        lm_curve(3e-3, 1.35, diverge_at=2300),
        "Learning-rate sweep, task 2 of 3. Diverged around step 2,300: `train/loss` went to inf, "
        "then NaN. Kept as a reminder to add gradient clipping.",
    ),
    RunSpec(
        name="vit-b16-imagenet100-bs256",
        created="2025-03-06 14:02:51",
        status="failed",
        family="vision",
        hparams=hparams(
            {"name": "vit_b_16", "patch_size": 16, "drop_path": 0.1},
            {"name": "imagenet-100", "batch_size": 256, "num_workers": 12, "augment": ["rrc", "hflip"]},
            5e-4,
            {"max_epochs": 100, "devices": 1},
            {"slurm": {"job_id": "48301", "task_id": 0}},
        ),
        curve=VIT_OOM,
        notes="Crashed with CUDA OOM in the first validation loop (`data.batch_size=256`).\n\n"
        "Retry with a smaller validation batch.",
        tags=("vision", "oom"),
    ),
    RunSpec(
        name="gpt-small-tinystories-20k",
        created="2025-03-07 18:30:00",
        status="completed",
        family="lm",
        hparams=lm_hparams(
            3e-4,
            "gpt-small",
            "tinystories",
            LONG_LM,
            {
                "slurm": {"job_id": "48355", "task_id": 0},
                "output_dir": f"{OUTPUTS}/gpt-small-tinystories-20k",
            },
        ),
        curve=LONG_LM,
        notes="Long run with the sweep's best learning rate.\n\n"
        "Resumed at step 6,000 with `val/ppl` added to the logged metrics.",
        tags=("lm", "long"),
        media=True,
        output_log=True,
    ),
    RunSpec(
        name="gpt-mini-openwebtext",
        created="2025-03-09 08:45:30",
        status="running",
        family="lm",
        hparams=lm_hparams(
            3e-4, "gpt-mini", "openwebtext-10k", STALLED_LM, {"slurm": {"job_id": "48410", "task_id": 0}}
        ),
        curve=STALLED_LM,
        notes="Stopped logging at step 7,433: a collective hung on rank 1 (see `train.err`).",
        tags=("lm",),
    ),
)


def learning_rate(curve: Curve, step: int) -> float:
    """Linear warm-up over the first 5 % of steps, then cosine decay to zero."""
    warmup = max(1, curve.total_steps // 20)
    if step < warmup:
        return curve.peak_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, curve.total_steps - warmup)
    return curve.peak_lr * 0.5 * (1 + math.cos(math.pi * progress))


def clean_loss(curve: Curve, step: int) -> float:
    decay = (1 + step / (curve.total_steps / 60)) ** -0.9
    return curve.final_loss + (curve.init_loss - curve.final_loss) * decay


def training_rows(curve: Curve, rng: random.Random) -> list[Row]:
    """Lightning-style sparse rows: train metrics every `log_every` steps, a val row every `val_every`."""
    rows: list[Row] = []
    last = curve.stop_at if curve.stop_at is not None else curve.total_steps
    blowup, loss = 1.0, curve.init_loss
    for step in range(last):
        epoch = step // curve.steps_per_epoch
        if (step + 1) % curve.log_every == 0:
            loss = clean_loss(curve, step) * rng.gauss(1.0, curve.noise)
            if curve.diverge_at is not None and step >= curve.diverge_at:
                blowup *= 1.7
                loss = math.nan if blowup > 1e4 else math.inf if blowup > 40 else loss * blowup
            rows.append({"epoch": epoch, "lr": learning_rate(curve, step), "step": step, "train/loss": loss})
        crashed_here = curve.stop_at is not None and step + 1 == curve.stop_at
        if (step + 1) % curve.val_every == 0 and not crashed_here:
            rows.append(validation_row(curve, step, epoch, loss, rng))
    return rows


def validation_row(curve: Curve, step: int, epoch: int, train_loss: float, rng: random.Random) -> Row:
    progress = step / curve.total_steps
    if not math.isfinite(train_loss) or train_loss > 4 * curve.init_loss:
        loss, acc = math.nan, 0.001
    else:
        loss = clean_loss(curve, step) * (1.04 + 0.06 * progress) * rng.gauss(1.0, curve.noise / 3)
        acc = min(1.0, curve.final_acc * (1 - math.exp(-5 * progress)) + rng.gauss(0, 0.004))
    row: Row = {"epoch": epoch, "step": step, "val/acc": acc, "val/loss": loss}
    if curve.ppl_from is not None and step >= curve.ppl_from:
        row["val/ppl"] = math.exp(loss)
    return row


def val_rows(rows: list[Row]) -> list[Row]:
    return [row for row in rows if "val/loss" in row]
