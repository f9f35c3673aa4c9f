"""Developer tooling (local stack, signed sender, demo, benchmarks). Never shipped to Lambda."""
