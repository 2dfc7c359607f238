"""Tools: schema extraction from Python source, and custom tool definitions."""
