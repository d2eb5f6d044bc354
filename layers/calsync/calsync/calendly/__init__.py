"""Calendly API v2: typed resources (``models``), their failures (``errors``, pure), and the
HTTP clients (``client`` for the API, ``oauth`` for the token endpoint, ``http`` what they share:
the only modules in calsync that import httpx)."""
