"""Geometry for the pipeline, free of neural networks: surface extraction from a signed field,
mesh clean-up, the model frame, preparing user meshes, surface sampling and farthest point sampling."""

from .extraction import extract_mesh
from .model_frame import ModelFrame
from .postprocess import clean_mesh, decimate, postprocess_mesh, remove_floaters
from .surface_points import encoder_point_cloud, farthest_point_sampling, sample_surface
from .user_mesh import PreparedMesh, prepare_user_mesh

__all__ = [
    "ModelFrame",
    "PreparedMesh",
    "clean_mesh",
    "decimate",
    "encoder_point_cloud",
    "extract_mesh",
    "farthest_point_sampling",
    "postprocess_mesh",
    "prepare_user_mesh",
    "remove_floaters",
    "sample_surface",
]
