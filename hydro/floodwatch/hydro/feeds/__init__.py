"""Feed adapters: one module per source kind behind the small interface in ``base``."""
