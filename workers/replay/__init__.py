"""Offline replay of recorded events through the pure core, in a live worker's event order."""
