"""The use cases: one module per noun (agents, blocks, archives and passages, messages,
runs and steps, tools, MCP servers, agent files).

Each operation is ``async def verb(deps, ...)``: it owns exactly one transaction (or none,
for work outside the database such as a sandbox call) and returns rows or dataclasses.
``deps`` is the narrowest thing that serves it: a ``Protocol`` from ``engram.ops.deps``
naming only what the operation uses. Operations take plain values and dataclasses, never
request models: nothing here imports ``engram.api``. The HTTP routes and the in-process
client (``engram.client``) are both thin callers of these functions.
"""
