"""The only package that touches boto3: DynamoDB, SQS and Secrets Manager adapters.

AWS errors become calsync's own exceptions here (``DependencyUnavailable``), raised from
the original, so nothing above this package knows a ``ClientError``.
"""
