"""ActionBench-compatible evaluation without PyTorch3D: CD-3D, CD-4D and CD-M (spec §10).

    from actionmesh_core.eval import evaluate_sample, evaluate_dataset
    scores = evaluate_sample(np.load("gt/<uid>/surfaces.npy"), AnimatedMesh.load("pred.npz"))
    summary = evaluate_dataset("gt", "pred", "results.csv")

`OFFICIAL` (the default) is the official evaluator's protocol; `FAST` does about a tenth of its ICP
work. The seed defaults to 44, as the official evaluator's.

The numbers follow the official evaluator's: the same samples, seeds, ICP loop (its float32 loss and
its choice of the best transform kept for parity) and Chamfer definitions. Predicted meshes are
loaded with process=False, the synchronised samples equal PyTorch3D's draws only for its CPU
generator, and the two repeated starts run once; see README "Evaluation".
"""

from .fixture import SHAPES, fixture_animation, tracked_points, write_fixture
from .metrics import DEFAULT_SEED, FAST, OFFICIAL, Protocol, evaluate_sample, score_points
from .runner import evaluate_dataset, format_table

__all__ = [
    "DEFAULT_SEED",
    "FAST",
    "OFFICIAL",
    "Protocol",
    "SHAPES",
    "evaluate_dataset",
    "evaluate_sample",
    "fixture_animation",
    "format_table",
    "score_points",
    "tracked_points",
    "write_fixture",
]
