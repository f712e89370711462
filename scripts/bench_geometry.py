"""Time coarse-to-fine surface extraction against a dense grid at several resolutions.

The field is an order-one truncated torus plus a small perturbation from a random query head
shaped like TripoSG's (Fourier features -> cross-attention to fixed keys -> MLP). With --width 1024
--keys 2048 a query costs about what a TripoSG decoder query costs once its trunk is cached; the
defaults are smaller so that a CPU run takes minutes. Dense extraction is run when its query count
is at most --max-dense; above that its field time is estimated from the hierarchical run's
seconds per query (marked "~").

    python scripts/bench_geometry.py --device cuda --width 1024 --keys 2048
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from actionmesh_core.geometry import extract_mesh


class QueryHeadField(torch.nn.Module):
    """points (N, 3) -> (N,) torus field clamped to [-1, 1] plus 0.01 * tanh(random query head)."""

    def __init__(self, width: int, keys: int, heads: int = 8, frequencies: int = 8):
        super().__init__()
        self.heads = heads
        self.register_buffer("frequencies", 2.0 ** torch.arange(frequencies) * torch.pi)
        self.embed = torch.nn.Linear(3 + 6 * frequencies, width)
        self.register_buffer("keys", torch.randn(keys, width))
        self.register_buffer("values", torch.randn(keys, width))
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(width, 4 * width), torch.nn.GELU(), torch.nn.Linear(4 * width, width)
        )
        self.out = torch.nn.Linear(width, 1)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(N, width) -> (heads, N, width / heads)."""
        return x.unflatten(-1, (self.heads, -1)).transpose(0, 1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        points = points.to(self.keys.device)
        angles = (points[:, :, None] * self.frequencies).flatten(1)
        query = self.embed(torch.cat([points, angles.sin(), angles.cos()], dim=1))
        attended = F.scaled_dot_product_attention(self.split(query), self.split(self.keys), self.split(self.values))
        hidden = attended.transpose(0, 1).flatten(1)
        hidden = hidden + self.mlp(hidden)
        ring = torch.stack([points[:, [0, 2]].norm(dim=-1) - 0.5, points[:, 1]], dim=-1).norm(dim=-1)
        return ((0.2 - ring) * 20).clamp(-1, 1) + 0.01 * torch.tanh(self.out(hidden)[:, 0])


def timed(field: torch.nn.Module, device: torch.device):
    """Wrap `field` so the seconds spent inside it are summed into `clock[0]`."""
    clock = [0.0]

    def call(points):
        start = time.perf_counter()
        values = field(points)
        if device.type == "cuda":
            torch.cuda.synchronize()
        clock[0] += time.perf_counter() - start
        return values

    return call, clock


def run(field, device, resolution, coarse, chunk_size):
    call, clock = timed(field, device)
    start = time.perf_counter()
    _, faces, stats = extract_mesh(call, resolution=resolution, coarse_resolution=coarse,
                                   chunk_size=chunk_size, device=device)
    return time.perf_counter() - start, clock[0], stats, len(faces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--coarse", type=int, default=64, help="cells per axis of the first level")
    parser.add_argument("--width", type=int, default=64, help="query-head width (TripoSG: 1024)")
    parser.add_argument("--keys", type=int, default=128, help="attention keys (TripoSG: 2048 latent tokens)")
    parser.add_argument("--chunk-size", type=int, default=32_768, help="queries per call (GPU: 262144 or more)")
    parser.add_argument("--max-dense", type=int, default=2_200_000, help="largest dense run, in queries")
    args = parser.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    field = QueryHeadField(args.width, args.keys).to(device).eval()
    with torch.no_grad():  # warm-up: first-call kernel set-up must not count
        field(torch.rand(args.chunk_size, 3, device=device))
    print(f"device {device}, query head width {args.width}, {args.keys} keys, torch threads {torch.get_num_threads()}")
    print(f"{'res':>5} {'mode':>12} {'queries':>12} {'sdf calls':>9} {'total s':>9} {'sdf s':>8} {'other s':>8} "
          f"{'faces':>8} {'levels (queries per level)'}")
    for resolution in args.resolutions:
        coarse = min(args.coarse, resolution)
        total, sdf, stats, faces = run(field, device, resolution, coarse, args.chunk_size)
        queries = stats["queries"]
        per_level = ", ".join(f"{lv['resolution']}:{lv['queries']}" for lv in stats["levels"])
        print(f"{resolution:>5} {'hierarchical':>12} {queries:>12,} {stats['sdf_calls']:>9} {total:>9.2f} "
              f"{sdf:>8.2f} {total - sdf:>8.2f} {faces:>8,} {per_level}")
        dense = stats["dense_queries"]
        if dense <= args.max_dense:
            total, sdf, _, faces = run(field, device, resolution, resolution, args.chunk_size)
            print(f"{resolution:>5} {'dense':>12} {dense:>12,} {'':>9} {total:>9.2f} {sdf:>8.2f} "
                  f"{total - sdf:>8.2f} {faces:>8,}")
        else:
            estimate = "~" + format(sdf * dense / queries, ".1f")
            print(f"{resolution:>5} {'dense':>12} {dense:>12,} {'':>9} {'':>9} {estimate:>8}")
        print(f"{resolution:>5} {'ratio':>12} {dense / queries:>11.1f}x fewer queries hierarchical")


if __name__ == "__main__":
    main()
