"""The agent runtime: context compilation, paging, the step loop, and the Engram facade."""
