"""Canonical schemas, the commodity vocabulary and normalisation of published layers."""
