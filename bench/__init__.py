"""Benchmarks against Ceph's own tools and scale by simulation (`make bench`, issue 8)."""
