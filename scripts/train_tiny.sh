#!/usr/bin/env bash
# The exact recipe of the bundled small model (actionmesh_core/assets/tiny_model), on a CPU machine.
# Every step resumes where it stopped when run again. Run from the repository root:
#     bash scripts/train_tiny.sh
# Runs that do not depend on each other go two at a time (each recipe uses one CPU thread).
set -euo pipefail
cd "$(dirname "$0")/.."
AM="${PYTHON:-python} -m actionmesh_core"

# 1. Data: 1200 training clips (seeds 0..1199) and 32 held-out clips (seeds 1000000..1000031).
[ -d data/train ] || $AM train data --split train --count 1200 --workers 2 --out data/train
[ -d data/heldout_bench ] || $AM train benchmark --count 32 --out data/heldout_bench

# 2. VecSet VAE.
$AM train vae --config configs/train/tiny_vae.json

# 3. Image-to-3D DiT with the image encoder, beside the temporal autoencoder on frame pairs (initialised
#    from the VAE decoder; the source is the earlier frame, up to 15 frames apart).
$AM train dit --config configs/train/tiny_dit.json &
DIT=$!
$AM train autoencoder --config configs/train/tiny_autoencoder.json
wait $DIT

# 4. Temporal denoiser (from the DiT, image encoder frozen), beside the autoencoder on pairs in both
#    directions (continuing the run above).
$AM train denoiser --config configs/train/tiny_denoiser.json &
DENOISER=$!
$AM train autoencoder --config configs/train/tiny_autoencoder_both.json
wait $DENOISER

# 5. More steps for the denoiser, beside more steps for the DiT with the image encoder frozen (the
#    denoiser conditions on the same encoder).
$AM train denoiser --config configs/train/tiny_denoiser_more.json &
DENOISER=$!
$AM train dit --config configs/train/tiny_dit_more.json
$AM train dit --config configs/train/tiny_dit_more2.json
$AM train dit --config configs/train/tiny_dit_more3.json
wait $DENOISER

# 6. The weights bundle, then the held-out benchmark: the pipeline and the still baselines, CD-4D and CD-M.
$AM train bundle --config configs/train/tiny_bundle.json
$AM train predict --bench data/heldout_bench --out runs/tiny/heldout
$AM train score --bench data/heldout_bench --preds runs/tiny/heldout
