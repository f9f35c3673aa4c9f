"""Test support shared by the tests, the local stack and the benchmarks: one place for each of these.

- `template`: template.yaml with intrinsics kept, function specs and environments, the table created from it;
- `aws`: dummy credentials, a Lambda context, request counting;
- `deliveries`: Svix-signed Clerk deliveries, HTTP API events, invoking an HTTP handler;
- `table`: the table's items and a user's rows, the stream read as Lambda reads it;
- `memory_store`: an in-memory ConnectionStore for unit tests of the logic.
"""
