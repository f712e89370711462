"""Flow-matching schedules, sliding-window plans and the denoising loops of Stage 0 and Stage I."""
