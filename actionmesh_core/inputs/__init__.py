"""Input frames: videos, frame folders, globs and frames in memory -> `Clip` (`load_clip`).

    load_clip (load.py) -> video.py | image_files.py | in_memory.py -> clip.py (Clip, FrameSelection) -> pixels.py
"""

from .clip import DEFAULT_FPS, Clip, FrameSelection
from .load import load_clip

__all__ = ["DEFAULT_FPS", "Clip", "FrameSelection", "load_clip"]
