"""The only package that touches boto3: DynamoDB, SQS and Secrets Manager adapters.

AWS errors become calsync's own exceptions here (``DependencyUnavailable``), raised from
the original, so nothing above this package knows a ``ClientError``.

Core: ``errors`` (the one place an AWS error code is compared), ``dynamo`` (values in and
out, conditional writes, paginated reads), ``keys`` (the single-table layout and every key
format), ``secret_json`` (JSON secrets), ``views`` (what reads return: no ``PK``/``SK``).
Adapters: ``bookings``, ``connections``, ``secrets`` (signing keys), ``tokens``, ``queues``.
"""
