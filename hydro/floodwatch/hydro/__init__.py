"""Hydrology of floodwatch: feeds, quality control, rainfall, flood depth and the model cycle.

Science functions here are pure (arrays in, arrays out); I/O lives at the edges.
"""
