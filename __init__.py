"""ComfyUI entry point of the ActionMesh node pack.

ComfyUI imports this file by path, so everything inside the pack uses relative imports. The nodes are imported
when ComfyUI first asks for NODE_CLASS_MAPPINGS (a module __getattr__, PEP 562), not when this file runs: test
runners that import a folder's __init__.py on its own (pytest does, and in a folder such as comfyui-actionmesh,
whose name is no package name, a relative import here would fail) import nothing through it.
"""

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]


def __getattr__(name: str):
    if name in ("NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"):
        from . import nodes

        return getattr(nodes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
