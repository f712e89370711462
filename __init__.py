"""ComfyUI entry point of the ActionMesh node pack.

ComfyUI imports this file by path, so everything inside the pack uses relative imports.
"""

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
