"""The synthetic county: realistic landing files for all four sources, with known truth."""
