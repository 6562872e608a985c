"""Cluster drivers: one interface (base.py), one module per backend."""
