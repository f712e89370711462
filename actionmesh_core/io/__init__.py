"""Reading mesh files: glTF (`gltf.py`), and GLB/glTF/OBJ/PLY into a `UserMesh` (`mesh_file.py`)."""
