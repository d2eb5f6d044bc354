"""calsync developer and operator tooling (CLI, local stack, benchmarks). Not shipped to Lambda."""
