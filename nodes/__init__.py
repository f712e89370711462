"""The ActionMesh node pack: node ids -> classes and display names (read by ComfyUI via the pack's __init__)."""

from . import comfy_adapter
from .loaders import LoadMesh, LoadModels, LoadVideo
from .meshes import AnimationFrameToMESH, MeshFromMESH, MeshToMESH
from .outputs import Export, PreviewAnimatedMesh, Render
from .stages import (
    ARExtend,
    Image3DPrior,
    MotionTransfer,
    PrepareFrames,
    RemoveBackground,
    TemporalAutoencoder,
    TemporalDiffusion,
    VideoToAnimatedMesh,
)
from .video_fit import ColourFromVideo, FitCamera, OverlayOnVideo

NODES = {
    "ActionMeshLoadModels": (LoadModels, "ActionMesh Load Models"),
    "ActionMeshLoadVideo": (LoadVideo, "ActionMesh Load Video"),
    "ActionMeshLoadMesh": (LoadMesh, "ActionMesh Load Mesh"),
    "ActionMeshPrepareFrames": (PrepareFrames, "ActionMesh Prepare Frames"),
    "ActionMeshRemoveBackground": (RemoveBackground, "ActionMesh Remove Background"),
    "ActionMeshImage3DPrior": (Image3DPrior, "ActionMesh Image3D Prior"),
    "ActionMeshTemporalDiffusion": (TemporalDiffusion, "ActionMesh Temporal Diffusion"),
    "ActionMeshTemporalAutoencoder": (TemporalAutoencoder, "ActionMesh Temporal Autoencoder"),
    "ActionMeshARExtend": (ARExtend, "ActionMesh AR Extend"),
    "ActionMeshMotionTransfer": (MotionTransfer, "ActionMesh Motion Transfer"),
    "ActionMeshVideoToAnimatedMesh": (VideoToAnimatedMesh, "ActionMesh Video to Animated Mesh"),
    "ActionMeshFitCamera": (FitCamera, "ActionMesh Fit Camera"),
    "ActionMeshColourFromVideo": (ColourFromVideo, "ActionMesh Colour from Video"),
    "ActionMeshOverlayOnVideo": (OverlayOnVideo, "ActionMesh Overlay on Video"),
    "ActionMeshMeshFromMESH": (MeshFromMESH, "ActionMesh Mesh from MESH"),
    "ActionMeshMeshToMESH": (MeshToMESH, "ActionMesh Mesh to MESH"),
    "ActionMeshAnimationFrameToMESH": (AnimationFrameToMESH, "ActionMesh Animation Frame to MESH"),
    "ActionMeshExport": (Export, "ActionMesh Export"),
    "ActionMeshPreviewAnimatedMesh": (PreviewAnimatedMesh, "ActionMesh Preview Animated Mesh"),
    "ActionMeshRender": (Render, "ActionMesh Render"),
}
NODE_CLASS_MAPPINGS = {node_id: cls for node_id, (cls, _) in NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS = {node_id: name for node_id, (_, name) in NODES.items()}

comfy_adapter.register_model_folder()
