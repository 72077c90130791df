"""Pure analysis steps: GeoDataFrames and arrays in, (Geo)DataFrames out; no file I/O."""
