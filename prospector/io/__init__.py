"""Reading sources and fetching official layers (pyogrio, rasterio, pooch, ArcGIS REST)."""
