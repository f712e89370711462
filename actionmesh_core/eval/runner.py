"""Evaluate a whole prediction folder against an ActionBench GT folder, resumably.

After each sample the per-sample CSV (columns of the official evaluator, plus seconds) and
`<csv>.summary.json` are rewritten atomically, so an interrupted run resumes where it stopped.
A sample that fails is recorded with its error and left out of the means.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..base.atomic import atomic_path
from ..parallel import Died, InlinePool, Pool, run_tasks
from ..parallel.dispatch import WorkerFactory
from .loading import MESH_PATTERN, list_samples, load_gt, load_prediction
from .metrics import DEFAULT_SEED, OFFICIAL, Protocol, evaluate_sample

COLUMNS = ("uid", "cd_3d", "cd_4d", "cd_motion", "n_frames", "seconds", "status", "error_message")
METRICS = (("CD-3D", "cd_3d"), ("CD-4D", "cd_4d"), ("CD-M", "cd_motion"))
NO_SHARED_TOPOLOGY = "CD-M not computed: the predicted frames do not share one topology"


def evaluate_dataset(gt_root: str | os.PathLike, pred_root: str | os.PathLike, out_csv: str | os.PathLike, *,
                     seed: int = DEFAULT_SEED, protocol: Protocol = OFFICIAL, mesh_pattern: str = MESH_PATTERN,
                     recompute: bool = False, device: str | None = None,
                     echo: Callable[[str], None] = print, pool: Callable[[WorkerFactory], Pool] | None = None) -> dict:
    """Score every GT sample; rows already scored ("ok") in out_csv are kept unless recompute.

    pool: makes the workers that score the samples from a worker factory (`InlinePool`, the default, scores
    them here in order; a `RayPool` scores them on Ray actors, with the same numbers). The CSV is written
    here, after each sample. Returns the summary (also written to `<out_csv>.summary.json`).
    """
    out_csv = Path(out_csv)
    uids = list_samples(gt_root)
    rows = {} if recompute else {r["uid"]: r for r in _resumable_rows(out_csv, seed, protocol, echo)}
    for uid in (uid for uid in uids if uid in rows):
        echo(_line(uids, uid, rows[uid]))

    def record(uid: str, row: dict | Died, attempts: int) -> None:
        if isinstance(row, Died):
            row = dict.fromkeys(COLUMNS, "") | {"uid": uid, "status": "error", "error_message": row.message}
        rows[uid] = row
        write_results(out_csv, [rows[u] for u in uids if u in rows], seed, protocol)
        echo(_line(uids, uid, row))

    scorer = functools.partial(SampleScorer, gt_root=gt_root, pred_root=pred_root, seed=seed, protocol=protocol,
                               mesh_pattern=mesh_pattern, device=device)
    run_tasks((pool or InlinePool)(scorer), [uid for uid in uids if uid not in rows], record)
    return write_results(out_csv, [rows[u] for u in uids], seed, protocol)


def _line(uids: list[str], uid: str, row: dict) -> str:
    scores = "  ".join(f"{name} {_number(row[key])}" for name, key in METRICS)
    return f"[{uids.index(uid) + 1}/{len(uids)}] {uid}: {row['status']}  {scores}  {row['error_message']}".rstrip()


class SampleScorer:
    """Scores one sample per `run(uid)` call (a worker of `evaluate_dataset`'s pool; slot is unused)."""

    def __init__(self, slot: int, gt_root, pred_root, seed: int, protocol: Protocol, mesh_pattern: str,
                 device: str | None):
        self._args = (gt_root, pred_root, seed, protocol, mesh_pattern, device)

    def run(self, uid: str) -> dict:
        gt_root, pred_root, seed, protocol, mesh_pattern, device = self._args
        return _evaluate_one(gt_root, pred_root, uid, seed, protocol, mesh_pattern, device)


def _evaluate_one(gt_root, pred_root, uid, seed, protocol, mesh_pattern, device) -> dict:
    row = dict.fromkeys(COLUMNS, "") | {"uid": uid}
    start = time.perf_counter()
    try:
        gt = load_gt(gt_root, uid)
        result = evaluate_sample(gt, load_prediction(pred_root, uid, mesh_pattern), seed=seed,
                                 protocol=protocol, device=device)
    except Exception as exc:  # noqa: BLE001 - any failure of one sample is recorded, not fatal
        return row | {"status": "error", "error_message": f"{type(exc).__name__}: {exc}",
                      "seconds": round(time.perf_counter() - start, 2)}
    return row | {
        "cd_3d": result["cd_3d"], "cd_4d": result["cd_4d"], "cd_motion": result["cd_m"], "n_frames": len(gt),
        "seconds": round(time.perf_counter() - start, 2), "status": "ok",
        "error_message": NO_SHARED_TOPOLOGY if math.isnan(result["cd_m"]) else "",
    }


def summarize(rows: list[dict], seed: int, protocol: Protocol) -> dict:
    """Means over the samples that scored (CD-M over those that have it), and what failed."""
    scored = [r for r in rows if r["status"] == "ok"]
    means, counts = {}, {}
    for _, key in METRICS:
        values = [float(r[key]) for r in scored if r[key] != "" and not math.isnan(float(r[key]))]
        means[key], counts[key] = (sum(values) / len(values) if values else None), len(values)
    failed = [r["uid"] for r in rows if r["status"] != "ok"]
    return {"samples": len(rows), "scored": len(scored), "failed": len(failed), "failed_uids": failed,
            "means": means, "counts": counts, "seed": seed, "protocol": asdict(protocol)}


def write_results(out_csv: Path, rows: list[dict], seed: int, protocol: Protocol) -> dict:
    """Rewrite the CSV and `<csv>.summary.json` (atomically); returns the summary."""
    with atomic_path(out_csv) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                             for r in rows)
    summary = summarize(rows, seed, protocol)
    with atomic_path(summary_path(out_csv)) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _resumable_rows(out_csv: Path, seed: int, protocol: Protocol, echo: Callable[[str], None]) -> list[dict]:
    """The scored rows of an earlier run with the same seed and protocol. Without its summary JSON
    (say, deleted) the rows are kept as this run's, and echo says so."""
    rows = [r for r in read_rows(out_csv) if r["status"] == "ok"]
    if not rows:
        return rows
    if not summary_path(out_csv).is_file():
        echo(f"resuming from the {len(rows)} scored row(s) of {out_csv}: {summary_path(out_csv).name} is missing, "
             f"so they are taken to be made with this run's seed ({seed}) and protocol (--recompute to redo them)")
        return rows
    earlier = json.loads(summary_path(out_csv).read_text())
    if earlier.get("seed") != seed or earlier.get("protocol") != asdict(protocol):
        raise InputError(f"{out_csv} holds results made with seed {earlier.get('seed')} and protocol "
                         f"{earlier.get('protocol')}, not seed {seed} and protocol {asdict(protocol)}: "
                         "pass --recompute, or write to another --out")
    return rows


def read_rows(out_csv: Path) -> list[dict]:
    """Rows of an earlier run's CSV ([] when there is none or it has other columns)."""
    if not out_csv.is_file():
        return []
    with open(out_csv, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader) if tuple(reader.fieldnames or ()) == COLUMNS else []


def summary_path(out_csv: Path) -> Path:
    return out_csv.with_name(out_csv.name + ".summary.json")


def format_table(rows: list[dict], summary: dict) -> str:
    """A fixed-width table: one line per sample, the means, the number of samples behind each mean
    (CD-M's can be fewer: it needs one shared topology), and the failures."""
    width = max([len("samples"), *(len(r["uid"]) for r in rows)])

    def line(label: str, cells: list[str], tail: str) -> str:
        return f"{label:<{width}}  " + "  ".join(f"{cell:>8}" for cell in cells) + f"  {tail}".rstrip()

    lines = [line("sample", [name for name, _ in METRICS], "status")]
    lines += [line(r["uid"], [_number(r[key]) for _, key in METRICS], r["status"]) for r in rows]
    lines.append(line("mean", [_number(summary["means"][key]) for _, key in METRICS], ""))
    lines.append(line("samples", [str(summary["counts"][key]) for _, key in METRICS],
                      f"of {summary['samples']} ({summary['scored']} scored)"))
    if summary["failed"]:
        lines.append(f"{summary['failed']} sample(s) failed and are left out of the means: "
                     + ", ".join(summary["failed_uids"]))
    return "\n".join(lines)


def _number(value) -> str:
    if value in ("", None) or math.isnan(float(value)):
        return "-"
    return f"{float(value):.4f}"
