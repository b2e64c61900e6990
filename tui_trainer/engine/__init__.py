"""The training engine: runs in its own process and talks to the UI only through typed events."""
