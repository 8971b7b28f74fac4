"""Channel adapters: one package per external system, each implementing a domain's port."""
