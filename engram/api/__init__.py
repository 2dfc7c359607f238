"""The HTTP skin: FastAPI routers speaking Letta's v1 wire format."""
