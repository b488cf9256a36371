"""Core of the floodwatch namespace: settings, the store (database engine), errors and the CLI.

This component sits in its own folder because every other component (hydro, gis_data,
warnings, web_map) depends on it and it depends on none of them.
"""
