"""Log texts for the bundled example runs: Lightning console output, submitit rank logs, a crash."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from example_runs import SWEEP_ID, Row, RunSpec, val_rows

GREEN, YELLOW, BOLD, RESET = "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[0m"
BAR_WIDTH = 10
BAR_EIGHTHS = " ▏▎▍▌▋▊▉"
SITE_PACKAGES = "/home/alice/.venv/lib/python3.11/site-packages"


def clock(t: float) -> str:
    """`2025-03-05 22:10:04,512`, the timestamp of Python's logging module (UTC here)."""
    moment = datetime.fromtimestamp(t, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f",{int(t * 1000) % 1000:03d}"


def lightning_banner(model_rows: list[tuple[str, str, str]], devices: int) -> str:
    """What Lightning prints before the first step: accelerator lines and the model summary."""
    visible = ",".join(str(i) for i in range(devices))
    width = max(len(kind) for _, kind, _ in model_rows)
    rule = "-" * (39 + width)
    lines = [
        "Using bf16 Automatic Mixed Precision (AMP)",
        "GPU available: True (cuda), used: True",
        "TPU available: False, using: 0 TPU cores",
        "HPU available: False, using: 0 HPUs",
        f"LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [{visible}]",
        "",
        f"  | Name      | {'Type':<{width}} | Params | Mode ",
        rule,
    ]
    lines += [
        f"{i} | {name:<9} | {kind:<{width}} | {params:<6} | train"
        for i, (name, kind, params) in enumerate(model_rows)
    ]
    total = model_rows[0][2]
    lines += [
        rule,
        f"{total:<9} Trainable params",
        "0         Non-trainable params",
        f"{total:<9} Total params",
        "",
    ]
    return "\n".join(lines) + "\n"


def progress_bar(epoch: int, done: int, total: int, rate: float, loss: float) -> str:
    """One tqdm refresh, as Lightning's TQDMProgressBar draws it."""
    filled = done * BAR_WIDTH * 8 // total
    bar = "█" * (filled // 8) + (BAR_EIGHTHS[filled % 8] if filled // 8 < BAR_WIDTH else "")
    elapsed, left = done / rate, (total - done) / rate
    return (
        f"Epoch {epoch}: {100 * done // total:3d}%|{bar:<{BAR_WIDTH}}| {done}/{total} "
        f"[{_mmss(elapsed)}<{_mmss(left)}, {rate:.2f}it/s, v_num=0, train/loss={loss:.3f}]"
    )


def _mmss(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def tqdm_epoch(epoch: int, batches: int, rate: float, losses: list[float]) -> str:
    """The `\\r`-separated refreshes of one epoch's bar, `losses` indexed by batch."""
    points = sorted(set(range(0, batches + 1, max(1, batches // 25))) | {batches})
    return "\r".join(progress_bar(epoch, d, batches, rate, losses[d]) for d in points) + "\n"


def epoch_line(epoch: int, metrics: dict[str, float]) -> str:
    """The coloured per-epoch summary a callback prints."""
    values = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    return f"{GREEN}✔{RESET} {BOLD}epoch {epoch:>2}{RESET}  {values}\n"


def step_line(step: int, total: int, metrics: dict[str, float]) -> str:
    values = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
    return f"step {step:>6}/{total}  {values}\n"


def submitit_start(t: float, job: str, rank: int, ranks: int, host: str) -> str:
    return (
        f"submitit INFO ({clock(t)}) - Starting with JobEnvironment(job_id={job}, hostname={host}, "
        f"local_rank={rank}({ranks}), node=0(1), global_rank={rank}({ranks}))\n"
        f"submitit INFO ({clock(t + 0.2)}) - Loading pickle: "
        f"/home/alice/sweeps/lr/.submitit/{job}/{job}_submitted.pkl\n"
    )


def submitit_end(t: float) -> str:
    return (
        f"submitit INFO ({clock(t)}) - Job completed successfully\n"
        f"submitit INFO ({clock(t + 0.4)}) - Exiting after successful completion\n"
    )


def dataloader_warning() -> str:
    return (
        f"{SITE_PACKAGES}/lightning/pytorch/trainer/connectors/data_connector.py:424: "
        "The 'val_dataloader' does not have many workers which may be a bottleneck. "
        "Consider increasing the value of the `num_workers` argument` to `num_workers=15` "
        "in the `DataLoader` to improve performance.\n"
    )


def nan_warning(step: int) -> str:
    return f"{YELLOW}WARNING{RESET} non-finite loss at step {step}: grad_norm=inf, skipping optimizer step\n"


def oom_traceback() -> str:
    """A CUDA out-of-memory crash during the first validation loop."""
    frames = [
        ("/home/alice/spt/train.py", 91, "<module>", "main()"),
        ("/home/alice/spt/train.py", 87, "main", "trainer.fit(module, datamodule=datamodule)"),
        (
            f"{SITE_PACKAGES}/lightning/pytorch/trainer/trainer.py",
            538,
            "fit",
            "call._call_and_handle_interrupt(",
        ),
        (
            f"{SITE_PACKAGES}/lightning/pytorch/trainer/call.py",
            47,
            "_call_and_handle_interrupt",
            "return trainer_fn(*args, **kwargs)",
        ),
        (f"{SITE_PACKAGES}/lightning/pytorch/loops/fit_loop.py", 216, "run", "self.advance()"),
        (
            f"{SITE_PACKAGES}/lightning/pytorch/loops/evaluation_loop.py",
            142,
            "run",
            "self._evaluation_step(batch, batch_idx, dataloader_idx, dataloader_iter)",
        ),
        ("/home/alice/spt/module.py", 64, "validation_step", "logits = self.backbone(images)"),
        (
            f"{SITE_PACKAGES}/torch/nn/functional.py",
            5504,
            "scaled_dot_product_attention",
            "attn = q @ k.transpose(-2, -1)",
        ),
    ]
    body = "".join(
        f'  File "{path}", line {line}, in {func}\n    {code}\n' for path, line, func, code in frames
    )
    return (
        "Traceback (most recent call last):\n"
        + body
        + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.06 GiB. "
        "GPU 0 has a total capacity of 39.39 GiB of which 1.71 GiB is free. Including non-PyTorch "
        "memory, this process has 37.67 GiB memory in use. Of the allocated memory 34.90 GiB is "
        "allocated by PyTorch, and 2.12 GiB is reserved by PyTorch but unallocated.\n"
        "srun: error: gpu-node-004: task 0: Exited with exit code 1\n"
    )


def nccl_stall(t: float) -> str:
    """What a hung collective prints before the watchdog would fire."""
    return (
        f"[rank1]:[W {clock(t)} ProcessGroupNCCL.cpp:1168] Warning: collective operation "
        "ALLREDUCE (SeqNum=74301) has not completed after 600000 ms; still waiting.\n"
    )


def console_logs(spec: RunSpec, flat: dict[str, object], rows: list[Row], updated: float) -> tuple[str, str]:
    """train.out / train.err of a run started directly with srun."""
    stdout = lightning_banner(model_table(spec), int(str(flat["trainer.devices"])))
    if spec.status == "failed":
        return stdout + failed_progress(spec, rows), dataloader_warning() + oom_traceback()
    stdout += progress_lines(spec, rows)
    stderr = dataloader_warning()
    if spec.status == "running":
        stderr += nccl_stall(updated + 600)
    else:
        limit = "max_epochs" if "trainer.max_epochs" in flat else "max_steps"
        stdout += f"`Trainer.fit` stopped: `{limit}={flat['trainer.' + limit]}` reached.\n"
    return stdout, stderr


def rank_logs(spec: RunSpec, rows: list[Row], created: float, updated: float) -> dict[str, str]:
    """submitit's `{sweep}_{task}_{rank}_log.{out,err}` for 2 ranks, by file name."""
    job = f"{SWEEP_ID}_{spec.task}"
    host = f"gpu-node-{17 + (spec.task or 0):03d}"
    files = {}
    for rank in range(2):
        stdout = f"Initializing distributed: GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2\n"
        stderr = submitit_start(created, job, rank, 2, host)
        if rank == 0:
            stdout = lightning_banner(model_table(spec), 2) + stdout + progress_lines(spec, rows)
            stderr += dataloader_warning() + "".join(
                nan_warning(int(r["step"])) for r in rows if not math.isfinite(r.get("train/loss", 0))
            )
        files[f"{job}_{rank}_log.out"] = stdout
        files[f"{job}_{rank}_log.err"] = stderr + submitit_end(updated)
    return files


def model_table(spec: RunSpec) -> list[tuple[str, str, str]]:
    """(name, type, params) rows of Lightning's model summary; the first row holds the total."""
    if spec.family == "lm":
        return [
            ("model", "GPT", "25.3 M" if "mini" in spec.name else "124 M"),
            ("criterion", "CrossEntropyLoss", "0"),
        ]
    backbone = ("ResNet", "11.2 M") if "resnet" in spec.name else ("VisionTransformer", "85.9 M")
    return [("backbone", *backbone), ("head", "Linear", "5.1 K"), ("criterion", "CrossEntropyLoss", "0")]


def progress_lines(spec: RunSpec, rows: list[Row]) -> str:
    """Coloured per-epoch lines for vision runs, plain per-validation step lines for LM runs."""
    if spec.family == "vision":
        return "".join(
            epoch_line(int(r["epoch"]), {k: float(r[k]) for k in ("val/loss", "val/acc")})
            for r in val_rows(rows)
        )
    return "".join(
        step_line(
            int(r["step"]) + 1,
            spec.curve.total_steps,
            {k: float(v) for k, v in r.items() if k.startswith("val/")},
        )
        for r in val_rows(rows)
    )


def failed_progress(spec: RunSpec, rows: list[Row]) -> str:
    """tqdm bars redrawn with `\\r` for every epoch logged, then the validation bar it crashed in."""
    batches = spec.curve.steps_per_epoch
    text = ""
    for epoch in sorted({int(r["epoch"]) for r in rows}):
        losses = [float(r["train/loss"]) for r in rows if r["epoch"] == epoch and "train/loss" in r]
        per_batch = [losses[min(len(losses) - 1, b * len(losses) // batches)] for b in range(batches + 1)]
        text += tqdm_epoch(epoch, batches, 2.87, per_batch)
        text += epoch_line(epoch, {"train/loss": per_batch[-1]})
    return text + f"{YELLOW}Validation DataLoader 0:{RESET}   0%|          | 0/20 [00:00<?, ?it/s]"


def eval_log(rows: list[Row], updated: float) -> str:
    last = val_rows(rows)[-1]
    return (
        f"{clock(updated - 30)} INFO eval: loading checkpoint last.ckpt\n"
        f"{clock(updated - 4)} INFO eval: val/loss={float(last['val/loss']):.4f} "
        f"val/acc={float(last['val/acc']):.4f} on 10000 held-out stories\n"
    )
