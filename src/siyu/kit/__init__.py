"""Leaf helpers: time, money, ids, crypto, pagination. Import nothing internal but config."""
