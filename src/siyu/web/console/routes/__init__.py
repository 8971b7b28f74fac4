"""Console routes, one small module per page or group of actions."""
