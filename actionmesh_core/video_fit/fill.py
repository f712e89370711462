"""Colours for the surface the video never shows: a smooth fill from the seen neighbours over the mesh graph.

The unseen vertices solve the graph Laplace equation with the seen ones fixed (each unseen colour is the mean
of its neighbours'), so holes get the colours around them, blended smoothly: never black, never white. A piece
of the mesh with no seen vertex at all gets the mean seen colour (a small pull toward it also keeps the system
well posed)."""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

MEAN_PULL = 1e-4
"""Weight of the pull of every unseen vertex toward the mean seen colour, against its neighbours' (1 each)."""


def vertex_graph(faces: np.ndarray, num_vertices: int, merge_map: np.ndarray | None = None) -> scipy.sparse.csr_matrix:
    """(V, V) symmetric 0/1 adjacency of the mesh's edges; with a merge_map (V,) the copies of one vertex split
    at a seam are joined too."""
    rows = [faces[:, 0], faces[:, 1], faces[:, 2]]
    cols = [faces[:, 1], faces[:, 2], faces[:, 0]]
    if merge_map is not None:  # chain the copies of each merged vertex
        order = np.argsort(merge_map, kind="stable")
        same = merge_map[order[1:]] == merge_map[order[:-1]]
        rows.append(order[:-1][same])
        cols.append(order[1:][same])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(num_vertices, num_vertices)).tocsr()
    graph = graph + graph.T
    graph.data[:] = 1.0
    graph.setdiag(0.0)
    graph.eliminate_zeros()
    return graph


def fill_unseen(colours: np.ndarray, seen: np.ndarray, graph: scipy.sparse.csr_matrix,
                fallback: np.ndarray | None = None) -> np.ndarray:
    """colours (V, C) of the seen vertices (others ignored), seen (V,) bool, graph (V, V) -> (V, C) float64 with
    every unseen vertex filled. fallback (C,): the colour when nothing is seen (default: mid grey)."""
    colours = np.asarray(colours, np.float64).copy()
    if seen.all():
        return colours
    if not seen.any():
        colours[:] = 127.5 if fallback is None else fallback
        return colours
    mean = colours[seen].mean(axis=0)
    unseen = np.flatnonzero(~seen)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    inner = graph[unseen][:, unseen]
    system = scipy.sparse.diags(degree[unseen] + MEAN_PULL) - inner
    rhs = graph[unseen][:, np.flatnonzero(seen)] @ colours[seen] + MEAN_PULL * mean
    colours[unseen] = scipy.sparse.linalg.spsolve(system.tocsc(), rhs).reshape(len(unseen), -1)
    return colours
