"""The held-out benchmark commands: clips in the ActionBench layout, the pipeline and the still baselines
on them, and CD-4D / CD-M per clip, per category and overall."""

import json

import numpy as np

from actionmesh_core.cli import main
from actionmesh_core.eval.loading import list_samples, load_gt
from actionmesh_core.train.heldout import PREDICTIONS, write_benchmark

from pipeline_fixtures import write_tiny_root


def test_benchmark_predict_and_score(tmp_path, capsys):
    bench, preds, root = tmp_path / "bench", tmp_path / "preds", tmp_path / "weights"
    folders = write_benchmark(bench, 2, points=2000)
    assert sorted(f.name for f in folders) == list_samples(bench) == ["biped_1000001", "quadruped_1000000"]
    gt = load_gt(bench, folders[0].name)
    assert gt.shape == (16, 2000, 6) and len(list((folders[0] / "frames").glob("frame_*.png"))) == 16
    write_tiny_root(root)
    info = json.loads((root / "actionmesh.json").read_text())
    (root / "actionmesh.json").write_text(json.dumps({**info, "settings": {"prior_steps": 2, "steps": 2}}))
    assert main(["train", "predict", "--bench", str(bench), "--weights", str(root), "--out", str(preds)]) == 0
    for kind in PREDICTIONS:
        assert {p.name for p in (preds / kind).iterdir()} == set(list_samples(bench))
    capsys.readouterr()
    assert main(["train", "score", "--bench", str(bench), "--preds", str(preds)]) == 0
    table = capsys.readouterr().out
    scores = json.loads((preds / "scores-pipeline-still_reference-still_gt.json").read_text())
    for kind in PREDICTIONS:
        clips = scores[kind]["clips"]
        mean = np.mean([c["cd_m"] for c in clips.values()])
        assert np.isclose(scores[kind]["mean"]["cd_m"], mean) and all(c["cd_4d"] > 0 for c in clips.values())
        assert f"all (2)          {kind:<16} {scores[kind]['mean']['cd_4d']:>8.4f}" in table
    assert "biped (1)" in table and "quadruped (1)" in table
    held = scores["still_gt"]["clips"]  # the exact frame-0 shape held still: CD-M measures the motion it misses
    assert all(c["cd_m"] > 0.01 for c in held.values())
