"""SMS: a provider port and a logging provider for development."""
