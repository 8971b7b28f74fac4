"""Analyses over the operational store (one module per analysis); they read, never write."""
