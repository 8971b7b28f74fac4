"""Segments: named rules over customers, their members with entered/exited history, kept fresh."""
