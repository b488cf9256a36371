"""GIS data of floodwatch: the store's models, region definitions and their loaders."""
