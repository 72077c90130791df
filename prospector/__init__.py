"""Prospector: find and rank US federal land worth exploring for critical minerals."""
