"""Model stack: TripoSG VAE and DiT, ActionMesh temporal denoiser and autoencoder, DINOv2, RMBG-1.4."""

from .registry import MODEL_NAMES, build_model, checkpoint_manifest, load_model, save_model

__all__ = ["MODEL_NAMES", "build_model", "checkpoint_manifest", "load_model", "save_model"]
