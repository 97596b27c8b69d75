"""Long-running processes: the projector, the relay, automation and the scheduler."""
