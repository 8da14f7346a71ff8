"""The benchmark behind the figures in bench/README.md: `make bench` (python -m bench.run)."""
