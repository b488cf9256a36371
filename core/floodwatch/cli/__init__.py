"""The ``floodwatch`` command line: a thin layer that builds settings, calls the domain and maps
errors to exit codes (one table, in ``main``)."""
