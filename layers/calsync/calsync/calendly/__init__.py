"""Calendly API v2: typed resources (``models``), their failures (``errors``) and the HTTP
clients (``client``, the only module in calsync that imports httpx)."""
