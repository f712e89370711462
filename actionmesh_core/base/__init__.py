"""The bottom layer: file writes that a reader never sees half of, and vertex normals. Imports nothing from
the rest of the package except `errors`."""
