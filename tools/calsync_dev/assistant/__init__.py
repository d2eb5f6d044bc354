"""``calsync mcp``: the signed /v1 API offered to assistants as MCP tools (read-only).

``api`` signs each call (SigV4, service ``execute-api``) and turns the API's answers into values or
one typed error; ``server`` declares the tools. The tools hold no table access: IAM governs an
assistant exactly as it governs an application.
"""
