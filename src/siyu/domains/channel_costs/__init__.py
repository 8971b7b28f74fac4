"""Acquisition costs entered per channel code and period (for channel attribution's ROI)."""
