"""Local platform: each flow run as a subprocess of this machine."""
