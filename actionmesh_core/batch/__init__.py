"""Many videos in one job: `actionmesh batch INPUTS --out DIR`.

    items = collect_items("clips/")                      # or a clips.csv / clips.jsonl manifest
    summary = run_batch(items, "out/", ModelSource("pretrained_weights"), BatchOptions(settings=Settings()))

Each item runs `pipeline.run_job` (what `video2mesh` runs) on a worker that loaded its models once, and writes
`out/<item>/` as `video2mesh` does; `out/batch.jsonl` records every item and lets a rerun resume.
"""

from .items import BatchItem, collect_items, read_manifest
from .results import TABLE_NAME, ResultsTable
from .runner import BatchOptions, BatchSummary, run_batch
from .worker import BatchTask, BatchWorker, ModelSource

__all__ = ["TABLE_NAME", "BatchItem", "BatchOptions", "BatchSummary", "BatchTask", "BatchWorker", "ModelSource",
           "ResultsTable", "collect_items", "read_manifest", "run_batch"]
