"""Memory tiers and the embedding models that index archival memory."""
